from decimal import Decimal

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from crm_project.models import TenantForeignKey, TenantModel


class Product(TenantModel):
    sku = models.CharField(max_length=100)
    external_id = models.CharField(max_length=100, null=True, blank=True)
    name = models.CharField(max_length=255)
    brand = models.CharField(max_length=100, blank=True)
    category = models.CharField(max_length=100, blank=True)
    price = models.DecimalField(max_digits=12, decimal_places=2, default=Decimal("0.00"))
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["sku"]
        constraints = [
            models.UniqueConstraint(fields=["account", "sku"], name="product_unique_sku"),
            models.UniqueConstraint(
                fields=["account", "external_id"],
                condition=Q(external_id__isnull=False),
                name="product_unique_external_id",
            ),
            models.CheckConstraint(condition=Q(price__gte=0), name="product_price_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.sku} {self.name}"


class PointOfSale(TenantModel):
    name = models.CharField(max_length=200)
    code = models.CharField(max_length=50)
    city = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["code"]
        verbose_name = "point of sale"
        verbose_name_plural = "points of sale"
        constraints = [
            models.UniqueConstraint(fields=["account", "code"], name="pos_unique_code"),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class OrderStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    PROCESSING = "processing", "Processing"
    COMPLETED = "completed", "Completed"
    SHIPPED = "shipped", "Shipped"
    DELIVERED = "delivered", "Delivered"
    CANCELLED = "cancelled", "Cancelled"
    REFUNDED = "refunded", "Refunded"


# Orders in these statuses do not count towards spend, totals or segments.
UNCOUNTED_STATUSES = (OrderStatus.CANCELLED, OrderStatus.REFUNDED)


class Channel(models.TextChoices):
    ECOMMERCE = "ecommerce", "E-commerce"
    STORE = "store", "Store"
    PHONE = "phone", "Phone"
    OTHER = "other", "Other"


class PaymentMethod(models.TextChoices):
    CASH = "cash", "Cash"
    CARD = "card", "Card"
    TRANSFER = "transfer", "Transfer"
    OTHER = "other", "Other"


class Order(TenantModel):
    number = models.BigIntegerField(editable=False)
    external_id = models.CharField(max_length=100, null=True, blank=True)
    customer = TenantForeignKey(
        "customers.Customer", on_delete=models.PROTECT, related_name="orders"
    )
    status = models.CharField(
        max_length=12, choices=OrderStatus.choices, default=OrderStatus.COMPLETED
    )
    channel = models.CharField(max_length=10, choices=Channel.choices, default=Channel.OTHER)
    pos = TenantForeignKey(
        PointOfSale, null=True, blank=True, on_delete=models.PROTECT, related_name="orders"
    )
    payment_method = models.CharField(
        max_length=10, choices=PaymentMethod.choices, default=PaymentMethod.OTHER
    )
    currency = models.CharField(max_length=3, default="USD")
    ordered_at = models.DateTimeField()
    amount = models.DecimalField(max_digits=14, decimal_places=2)
    # The loyalty card number given at checkout (a foreign key once loyalty lands).
    loyalty_card = models.CharField(max_length=50, blank=True)
    shipping_address = models.TextField(blank=True)
    billing_address = models.TextField(blank=True)
    notes = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-ordered_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["account", "number"], name="order_unique_number"),
            models.UniqueConstraint(
                fields=["account", "external_id"],
                condition=Q(external_id__isnull=False),
                name="order_unique_external_id",
            ),
            models.CheckConstraint(condition=Q(amount__gte=0), name="order_amount_not_negative"),
        ]
        indexes = [
            models.Index(fields=["account", "customer", "ordered_at"], name="order_customer_idx"),
            models.Index(fields=["account", "-ordered_at", "-id"], name="order_ordered_idx"),
            models.Index(
                fields=["account", "pos", "customer"],
                include=["status"],
                name="order_pos_customer_idx",
            ),
            models.Index(
                fields=["account", "id"],
                include=["customer", "status"],
                name="order_customer_status_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"Order #{self.number}"

    # Read by apps that see orders through the registry rather than by import (the
    # customers app's health figures).
    UNCOUNTED_STATUSES = UNCOUNTED_STATUSES

    @property
    def counted(self) -> bool:
        return self.status not in UNCOUNTED_STATUSES


class OrderItem(TenantModel):
    order = TenantForeignKey(Order, on_delete=models.CASCADE, related_name="items")
    product = TenantForeignKey(
        Product, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    sku = models.CharField(max_length=100, blank=True)
    name = models.CharField(max_length=255, blank=True)
    brand = models.CharField(max_length=100, blank=True)
    quantity = models.PositiveIntegerField(validators=[MinValueValidator(1)])
    unit_price = models.DecimalField(max_digits=12, decimal_places=2)
    discount_percent = models.DecimalField(
        max_digits=5,
        decimal_places=2,
        default=Decimal("0"),
        validators=[MinValueValidator(0), MaxValueValidator(100)],
    )
    line_total = models.DecimalField(max_digits=14, decimal_places=2)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["order", "position"]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gte=1), name="item_quantity_positive"),
            models.CheckConstraint(
                condition=Q(discount_percent__gte=0, discount_percent__lte=100),
                name="item_discount_0_100",
            ),
        ]
        indexes = [
            models.Index(fields=["account", "sku", "order"], name="item_sku_order_idx"),
        ]


class OrderDay(TenantModel):
    """The account's counted orders (not cancelled or refunded) placed on a day of the
    account's timezone: how many and their amounts' sum. The reports sum these rows
    instead of reading millions of orders (reports.selectors: revenue by month).

    Written only by the orders table's statement-level triggers (migration 0007): each
    insert, update or delete appends its net change as rows here, in the writer's
    transaction and without locking a shared row; crm_project.rollups folds each day's
    rows into one every few minutes (beat). A change of the account's timezone
    rebuilds its rows (a trigger on the accounts table)."""

    day = models.DateField()
    orders = models.BigIntegerField()
    revenue = models.DecimalField(max_digits=24, decimal_places=2)

    class Meta:
        indexes = [models.Index(fields=["account", "day"], name="orderday_report_idx")]

    def __str__(self) -> str:
        return f"{self.day}: {self.orders} orders, {self.revenue}"
