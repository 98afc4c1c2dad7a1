// The segment builder: nested "all of" / "any of" groups of conditions (on the
// customer) and order criteria, fed by the rule catalog of the API, with a live count
// (debounced previews) and saving through the REST API with the session and CSRF token.
// Plain JavaScript, no framework.
(function () {
  "use strict";

  const app = document.getElementById("segments-app");
  if (!app) return;

  const API = app.dataset.api; // /api/v1/segments/
  const CAN_WRITE = app.dataset.canWrite === "true";
  const form = document.getElementById("segment-form");
  const rootEl = document.getElementById("rule-root");
  const countEl = document.getElementById("segment-count");
  const sampleEl = document.getElementById("segment-sample");
  const errorsEl = document.getElementById("segment-errors");
  const savedEl = document.getElementById("segment-saved");
  const headingEl = document.getElementById("builder-heading");
  const stateEl = document.getElementById("segment-state");
  const nameInput = document.getElementById("segment-name");
  const descriptionInput = document.getElementById("segment-description");
  const rowsEl = document.getElementById("segment-rows");
  const newButton = document.getElementById("segment-new");
  const activateButton = document.getElementById("segment-activate");
  const deactivateButton = document.getElementById("segment-deactivate");
  const csrfToken = form.querySelector("[name=csrfmiddlewaretoken]").value;

  const PREVIEW_DELAY_MS = 350;

  // --- Words -------------------------------------------------------------------------

  const OPERATOR_LABELS = {
    text: {
      "=": "is", "!=": "is not", contains: "contains", not_contains: "does not contain",
      starts_with: "starts with", ends_with: "ends with", in: "is one of", not_in: "is none of",
    },
    number: {
      "=": "equals", "!=": "does not equal", ">": "is more than", ">=": "is at least",
      "<": "is less than", "<=": "is at most", between: "is between",
    },
    date: {
      "=": "is on", ">": "is after", ">=": "is on or after", "<": "is before",
      "<=": "is on or before", between: "is between", within_last_days: "is within the last (days)",
      more_than_days_ago: "is more than (days) ago",
    },
    boolean: { "=": "is" },
    tags: { contains: "has the tag", in: "has any of", not_contains: "does not have the tag" },
    any: { is_empty: "is empty", is_not_empty: "is not empty" },
  };
  const CRITERION_LABELS = {
    transaction_count: "Number of orders",
    transaction_amount: "Total spent on orders",
    average_transaction_amount: "Average order amount",
    bought_in_pos: "Bought at a point of sale",
    bought_makers: "Bought a brand",
    bought_skus: "Bought a product (SKU)",
    last_purchase_n_days_before: "Bought within the last days",
    purchase_period: "Bought between two dates",
    transaction_percent_in_pos: "Share of orders at a point of sale",
    anniversary: "Anniversary coming up",
  };
  const PARAMETER_LABELS = {
    min: "At least", max: "At most", from_amount: "From amount", to_amount: "To amount",
    pos_ids: "Points of sale", makers: "Brands", skus: "SKUs", days: "Days",
    from_date: "From date", to_date: "To date", pos_id: "Point of sale",
    percent: "Percent of orders", anniversary_type: "Anniversary of",
  };
  const NO_VALUE = new Set(["is_empty", "is_not_empty"]);
  const LIST_VALUE = new Set(["in", "not_in"]);
  const DAYS_VALUE = new Set(["within_last_days", "more_than_days_ago"]);

  function humanize(name) {
    const text = String(name).replace(/[_.]+/g, " ").trim();
    return text.charAt(0).toUpperCase() + text.slice(1);
  }

  // --- The catalog (GET /segments/fields/), read whatever its exact layout ------------

  const catalog = {
    fields: [], // [{name, label, type, operators: [..], choices}]
    criteria: [], // [{type, label, parameters: [{name, label, type, required, choices}]}]
    maxDepth: 5,
    maxChildren: 50,
  };

  function asList(value, keyName) {
    if (Array.isArray(value)) return value;
    if (value && typeof value === "object") {
      return Object.entries(value).map(([key, item]) =>
        item && typeof item === "object" && !Array.isArray(item)
          ? { [keyName]: key, ...item }
          : { [keyName]: key, value: item });
    }
    return [];
  }

  function operatorNames(list) {
    return asList(list, "operator").map((op) =>
      typeof op === "string" ? op : op.operator || op.name || op.value || op.key);
  }

  function familyOf(type) {
    const t = String(type || "text").toLowerCase();
    // The catalog describes parameters in words: "list of point of sale ids or codes".
    if (t.startsWith("list of point of sale")) return "pos_list";
    if (t.startsWith("point of sale")) return "pos";
    if (t.startsWith("list of")) return "tags";
    if (["number", "integer", "decimal", "money", "float", "numeric", "count", "percent", "days"].includes(t)) return "number";
    if (["date", "datetime"].includes(t)) return "date";
    if (["boolean", "bool"].includes(t)) return "boolean";
    if (["tags", "tag", "array", "list", "text_list"].includes(t)) return "tags";
    if (t === "pos_list") return "pos_list";
    if (t === "pos") return "pos";
    if (t === "choice") return "choice";
    if (t === "metadata" || t === "json" || t === "object") return "metadata";
    if (t === "agent" || t === "uuid" || t === "id") return "agent";
    return "text";
  }

  function loadCatalog(raw) {
    const operatorsByType = {};
    asList(raw.operators || raw.operators_by_type || {}, "type").forEach((entry) => {
      const ops = entry.operators || entry.value || entry.items;
      operatorsByType[entry.type] = operatorNames(ops || []);
    });
    catalog.fields = asList(raw.fields || {}, "name").map((field) => {
      const name = field.name || field.field || field.key;
      const type = field.type || field.value_type || "text";
      let operators = operatorNames(field.operators || []);
      if (!operators.length) operators = operatorsByType[type] || [];
      return {
        name,
        type,
        family: name === "metadata" || String(name).startsWith("metadata") ? "metadata" : familyOf(type),
        label: field.label || humanize(name),
        operators,
        choices: field.choices || field.values || null,
      };
    });
    catalog.criteria = asList(raw.criteria || raw.criterion_types || raw.criteria_types || {}, "type").map(
      (criterion) => ({
        type: criterion.type || criterion.name,
        label: criterion.label || CRITERION_LABELS[criterion.type || criterion.name] || humanize(criterion.type),
        description: String(criterion.description || "").replace(/`/g, ""),
        parameters: asList(criterion.parameters || criterion.params || {}, "name").map((p) => ({
          name: p.name,
          type: p.kind || p.type || "text",
          required: Boolean(p.required),
          choices: p.choices || p.values || p.enum || null,
          label: p.label || PARAMETER_LABELS[p.name] || humanize(p.name),
          minimum: p.minimum,
          maximum: p.maximum,
        })),
      }));
    if (!catalog.fields.some((f) => f.family === "metadata") && operatorsByType.metadata) {
      catalog.fields.push({ name: "metadata", type: "metadata", family: "metadata", label: "Custom field", operators: operatorsByType.metadata, choices: null });
    }
    const limits = raw.groups || raw.limits || {};
    catalog.maxDepth = limits.max_depth || catalog.maxDepth;
    catalog.maxChildren = limits.max_rules || limits.max_children || catalog.maxChildren;
  }

  function fieldInfo(name) {
    if (name && name.startsWith("metadata.")) {
      return catalog.fields.find((f) => f.family === "metadata") || {
        name: "metadata", family: "metadata", label: "Custom field", operators: [],
      };
    }
    return catalog.fields.find((f) => f.name === name);
  }

  function operatorsFor(info) {
    if (!info) return [];
    if (info.operators && info.operators.length) return info.operators;
    return [];
  }

  function operatorLabel(info, op) {
    const family = info ? (info.family === "metadata" ? (isNumberOperator(op) ? "number" : "text") : info.family) : "text";
    const labels = OPERATOR_LABELS[family] || OPERATOR_LABELS.text;
    return labels[op] || OPERATOR_LABELS.any[op] || OPERATOR_LABELS.text[op] || OPERATOR_LABELS.number[op] || op;
  }

  function isNumberOperator(op) {
    return [">", ">=", "<", "<=", "between"].includes(op);
  }

  function criterionInfo(type) {
    return catalog.criteria.find((c) => c.type === type);
  }

  // --- The rule being edited -------------------------------------------------------------
  //   group:     {kind: "group", logic: "AND"|"OR", children: [...]}
  //   condition: {kind: "condition", field, key (metadata), operator, value, value2}
  //   criterion: {kind: "criterion", type, params: {name: text}}

  let nextId = 1;
  const newId = () => `n${nextId++}`;

  const state = {
    root: emptyGroup(),
    segment: null, // the saved segment being edited, as the API gave it
    segments: [],
    previewSeq: 0,
    previewTimer: null,
    previewAbort: null,
    options: {}, // choices loaded from the API: {pos: [...], agents: [...]}
  };

  function emptyGroup(logic) {
    return { id: newId(), kind: "group", logic: logic || "AND", children: [] };
  }

  function newCondition() {
    const first = catalog.fields[0];
    const node = { id: newId(), kind: "condition", field: first ? first.name : "", key: "", operator: "", value: "", value2: "" };
    node.operator = operatorsFor(fieldInfo(node.field))[0] || "";
    return node;
  }

  function newCriterion() {
    const first = catalog.criteria[0];
    return { id: newId(), kind: "criterion", type: first ? first.type : "", params: {} };
  }

  function depthOf(target, node = state.root, depth = 1) {
    if (node === target) return depth;
    if (node.kind !== "group") return 0;
    for (const child of node.children) {
      const found = depthOf(target, child, depth + 1);
      if (found) return found;
    }
    return 0;
  }

  function find(id, node = state.root, parent = null) {
    if (node.id === id) return { node, parent };
    if (node.kind !== "group") return null;
    for (const child of node.children) {
      const found = find(id, child, node);
      if (found) return found;
    }
    return null;
  }

  // --- Model <-> API rule ------------------------------------------------------------

  function splitList(text) {
    return String(text || "").split(",").map((s) => s.trim()).filter(Boolean);
  }

  function numberOrText(text) {
    const trimmed = String(text).trim();
    return /^-?\d+(\.\d+)?$/.test(trimmed) ? Number(trimmed) : trimmed;
  }

  function conditionValue(node, info) {
    const op = node.operator;
    if (NO_VALUE.has(op)) return undefined;
    const family = info ? info.family : "text";
    const numeric = family === "number" || (family === "metadata" && isNumberOperator(op));
    const convert = (text) => (numeric ? numberOrText(text) : String(text).trim());
    if (DAYS_VALUE.has(op)) return numberOrText(node.value);
    if (op === "between") return [convert(node.value), convert(node.value2)];
    if (LIST_VALUE.has(op)) return splitList(node.value).map(convert);
    if (family === "boolean") return node.value === "true";
    if (family === "metadata" && (op === "=" || op === "!=")) return numberOrText(node.value);
    return convert(node.value);
  }

  function toRule(node) {
    if (node.kind === "group") return { logic: node.logic, rules: node.children.map(toRule) };
    if (node.kind === "condition") {
      const info = fieldInfo(node.field);
      const field = info && info.family === "metadata" ? `metadata.${node.key.trim()}` : node.field;
      const rule = { field, operator: node.operator };
      const value = conditionValue(node, info);
      if (value !== undefined) rule.value = value;
      return rule;
    }
    const rule = { type: node.type };
    const info = criterionInfo(node.type);
    (info ? info.parameters : []).forEach((p) => {
      const text = node.params[p.name];
      if (text === undefined || String(text).trim() === "") return;
      const family = familyOf(p.type);
      if (Array.isArray(text)) rule[p.name] = text;
      else if (family === "tags" || family === "pos_list") rule[p.name] = splitList(text);
      else if (family === "number") rule[p.name] = numberOrText(text);
      else rule[p.name] = String(text).trim();
    });
    return rule;
  }

  function fromRule(rule) {
    if (rule && Array.isArray(rule.rules)) {
      return { id: newId(), kind: "group", logic: String(rule.logic || "AND").toUpperCase(), children: rule.rules.map(fromRule) };
    }
    if (rule && rule.field !== undefined) {
      const node = { id: newId(), kind: "condition", field: rule.field, key: "", operator: rule.operator || "", value: "", value2: "" };
      if (String(rule.field).startsWith("metadata.")) {
        node.field = (fieldInfo(rule.field) || {}).name || "metadata";
        node.key = rule.field.slice("metadata.".length);
      }
      const value = rule.value;
      if (Array.isArray(value) && rule.operator === "between") {
        node.value = String(value[0] ?? "");
        node.value2 = String(value[1] ?? "");
      } else if (Array.isArray(value)) {
        node.value = value.join(", ");
      } else if (value !== undefined && value !== null) {
        node.value = String(value);
      }
      return node;
    }
    const node = { id: newId(), kind: "criterion", type: rule.type, params: {} };
    Object.entries(rule || {}).forEach(([key, value]) => {
      if (key === "type" || key === "id") return;
      node.params[key] = Array.isArray(value) ? value.map(String) : String(value);
    });
    return node;
  }

  // Something a person has not finished yet: no preview until it is.
  function incomplete(node) {
    if (node.kind === "group") return node.children.length === 0 ? node : node.children.map(incomplete).find(Boolean) || null;
    if (node.kind === "condition") {
      const info = fieldInfo(node.field);
      if (!info || !node.operator) return node;
      if (info.family === "metadata" && !node.key.trim()) return node;
      if (NO_VALUE.has(node.operator)) return null;
      if (String(node.value).trim() === "") return node;
      if (node.operator === "between" && String(node.value2).trim() === "") return node;
      return null;
    }
    const info = criterionInfo(node.type);
    if (!info) return node;
    const given = info.parameters.filter((p) => {
      const v = node.params[p.name];
      return v !== undefined && (Array.isArray(v) ? v.length : String(v).trim() !== "");
    });
    if (info.parameters.some((p) => p.required && !given.includes(p))) return node;
    return given.length ? null : node;
  }

  // --- Rendering -----------------------------------------------------------------------

  function h(tag, attributes, ...children) {
    const el = document.createElement(tag);
    Object.entries(attributes || {}).forEach(([key, value]) => {
      if (value === null || value === undefined || value === false) return;
      if (key === "class") el.className = value;
      else if (key === "text") el.textContent = value;
      else if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
      else if (key === "value") el.value = value;
      else el.setAttribute(key, value === true ? "" : value);
    });
    children.flat().forEach((child) => {
      if (child === null || child === undefined || child === false) return;
      el.append(child instanceof Node ? child : document.createTextNode(String(child)));
    });
    return el;
  }

  function select(id, label, options, value, onChange, extra) {
    const control = h("select", { id, ...extra, onchange: (e) => onChange(e.target.value) },
      options.map((o) => (o.group
        ? h("optgroup", { label: o.group }, o.options.map((x) => h("option", { value: x.value, text: x.label })))
        : h("option", { value: o.value, text: o.label }))));
    control.value = value;
    return h("div", { class: "field" }, h("label", { for: id, text: label }), control);
  }

  function input(id, label, value, onInput, extra) {
    const control = h("input", { id, type: "text", value: value ?? "", autocomplete: "off", ...extra, oninput: (e) => onInput(e.target.value) });
    return h("div", { class: extra && extra.wide ? "field field-wide" : "field" }, h("label", { for: id, text: label }), control);
  }

  function fieldOptions() {
    const groups = {};
    const order = [];
    catalog.fields.forEach((f) => {
      const group = { text: "Customer", number: "Figures", date: "Dates", boolean: "Consent",
        tags: "Customer", metadata: "Custom fields", agent: "Customer" }[f.family] || "Customer";
      if (!groups[group]) { groups[group] = []; order.push(group); }
      groups[group].push({ value: f.name, label: f.family === "metadata" ? "Custom field…" : f.label });
    });
    return order.map((group) => ({ group, options: groups[group] }));
  }

  function inputTypeFor(family) {
    if (family === "number") return { type: "number", step: "any", inputmode: "decimal" };
    if (family === "date") return { type: "date" };
    return { type: "text" };
  }

  function valueControls(node, info, idBase) {
    const op = node.operator;
    if (!info || NO_VALUE.has(op)) return [];
    const family = info.family === "metadata" ? (isNumberOperator(op) ? "number" : "text") : info.family;
    const update = (key) => (text) => { node[key] = text; changed(false); };
    if (DAYS_VALUE.has(op)) {
      return [input(`${idBase}-value`, "Days", node.value, update("value"), { type: "number", min: "0", step: "1" })];
    }
    if (family === "boolean") {
      if (node.value !== "true" && node.value !== "false") node.value = "true";
      return [select(`${idBase}-value`, "Value", [{ value: "true", label: "Yes" }, { value: "false", label: "No" }], node.value, (v) => { node.value = v; changed(false); })];
    }
    if (family === "agent" && state.options.agents && !LIST_VALUE.has(op)) {
      const options = [{ value: "", label: "Choose an agent" }, ...state.options.agents];
      return [select(`${idBase}-value`, "Agent", options, node.value, (v) => { node.value = v; changed(false); })];
    }
    if (op === "between") {
      const kind = inputTypeFor(family);
      return [
        input(`${idBase}-value`, "From", node.value, update("value"), kind),
        input(`${idBase}-value2`, "To", node.value2, update("value2"), kind),
      ];
    }
    if (LIST_VALUE.has(op)) {
      return [input(`${idBase}-value`, "Values (comma-separated)", node.value, update("value"), { wide: true })];
    }
    return [input(`${idBase}-value`, "Value", node.value, update("value"), inputTypeFor(family))];
  }

  function renderCondition(node, parent) {
    const idBase = `rule-${node.id}`;
    const info = fieldInfo(node.field);
    const operators = operatorsFor(info);
    if (!operators.includes(node.operator)) node.operator = operators[0] || "";
    const row = h("div", { class: "rule-row rule-condition", id: idBase, role: "group", "aria-label": "Condition", "data-node": node.id });
    row.append(h("div", { class: "rule-row-head" },
      h("span", { class: "kind", "aria-hidden": "true", text: "Customer" }), removeButton(node, parent, "condition")));
    row.append(select(`${idBase}-field`, "Field", fieldOptions(), info ? info.name : node.field, (value) => {
      node.field = value;
      node.operator = operatorsFor(fieldInfo(value))[0] || "";
      node.value = ""; node.value2 = "";
      changed(true, `${idBase}-field`);
    }, CAN_WRITE ? {} : {}));
    if (info && info.family === "metadata") {
      row.append(input(`${idBase}-key`, "Custom field key", node.key, (text) => { node.key = text; changed(false); }));
    }
    row.append(select(`${idBase}-operator`, "Operator", operators.map((op) => ({ value: op, label: operatorLabel(info, op) })), node.operator, (value) => {
      node.operator = value;
      changed(true, `${idBase}-operator`);
    }));
    valueControls(node, info, idBase).forEach((el) => row.append(el));
    return row;
  }

  function parameterControl(node, p, idBase) {
    const id = `${idBase}-${p.name}`;
    const label = p.required ? p.label : `${p.label} (optional)`;
    const value = node.params[p.name] ?? "";
    const family = familyOf(p.type);
    const set = (v) => { node.params[p.name] = v; changed(false); };
    const pos = state.options.pos;
    const isPos = family === "pos" || family === "pos_list";
    if (isPos && pos && pos.length) {
      if (family === "pos") {
        return select(id, label, [{ value: "", label: "Choose a point of sale" }, ...pos], value, set);
      }
      const control = h("select", { id, multiple: true, size: Math.min(4, pos.length), onchange: (e) => set([...e.target.selectedOptions].map((o) => o.value)) },
        pos.map((o) => h("option", { value: o.value, text: o.label })));
      const chosen = Array.isArray(value) ? value : splitList(value);
      [...control.options].forEach((o) => { o.selected = chosen.includes(o.value); });
      return h("div", { class: "field field-wide" }, h("label", { for: id, text: label }), control);
    }
    if (p.choices && p.choices.length) {
      const options = asList(p.choices, "value").map((c) => (typeof c === "string" ? { value: c, label: humanize(c) } : { value: c.value, label: c.label || humanize(c.value) }));
      if (!value) node.params[p.name] = options[0].value;
      return select(id, label, options, node.params[p.name], set);
    }
    if (family === "tags" || family === "pos_list") {
      const hint = family === "pos_list" ? "ids or codes, comma-separated" : "comma-separated";
      return input(id, `${label} (${hint})`, Array.isArray(value) ? value.join(", ") : value, set, { wide: true });
    }
    if (family === "pos") return input(id, `${label} (id or code)`, value, set);
    return input(id, label, value, set, { ...inputTypeFor(family), min: p.minimum, max: p.maximum });
  }

  function renderCriterion(node, parent) {
    const idBase = `rule-${node.id}`;
    const info = criterionInfo(node.type);
    const row = h("div", { class: "rule-row rule-criterion", id: idBase, role: "group", "aria-label": "Order criterion", "data-node": node.id });
    row.append(h("div", { class: "rule-row-head" },
      h("span", { class: "kind", "aria-hidden": "true", text: "Orders" }), removeButton(node, parent, "order criterion")));
    row.append(select(`${idBase}-type`, "Criterion", catalog.criteria.map((c) => ({ value: c.type, label: c.label })), node.type, (value) => {
      node.type = value;
      node.params = {};
      changed(true, `${idBase}-type`);
    }, { class: "criterion-type" }));
    (info ? info.parameters : []).forEach((p) => row.append(parameterControl(node, p, idBase)));
    if (info && info.description) row.append(h("p", { class: "help rule-help", text: info.description }));
    return row;
  }

  function removeButton(node, parent, what) {
    if (!parent) return null;
    return h("button", {
      type: "button",
      class: "button button-small button-quiet",
      "aria-label": `Remove this ${what}`,
      text: "Remove",
      onclick: () => {
        const index = parent.children.indexOf(node);
        parent.children.splice(index, 1);
        const next = parent.children[index] || parent.children[index - 1];
        changed(true, next ? `rule-${next.id}` : `rule-${parent.id}-add-condition`);
      },
    });
  }

  function renderGroup(node, parent, depth) {
    const idBase = `rule-${node.id}`;
    const level = depth === 1 ? "" : ` (level ${depth})`;
    const group = h("div", { class: "rule-group", id: idBase, role: "group", "aria-label": `Group${level}`, "data-node": node.id });
    const logic = h("select", { id: `${idBase}-logic`, class: "group-logic", "aria-label": `Combine the group${level} with`, onchange: (e) => { node.logic = e.target.value; changed(true, `${idBase}-logic`); } },
      h("option", { value: "AND", text: "all" }), h("option", { value: "OR", text: "any" }));
    logic.value = node.logic;
    group.append(h("div", { class: "rule-group-head" },
      h("span", { text: "Customers matching" }), logic, h("span", { text: "of these:" }),
      parent ? h("span", { class: "push" }, removeButton(node, parent, "group")) : null));
    const list = h("ol", { class: "rule-list" });
    node.children.forEach((child, index) => {
      const item = h("li", {});
      if (index > 0) item.append(h("span", { class: "rule-connector", "aria-hidden": "true", text: node.logic === "AND" ? "and" : "or" }));
      if (child.kind === "group") item.append(renderGroup(child, node, depth + 1));
      else if (child.kind === "condition") item.append(renderCondition(child, node));
      else item.append(renderCriterion(child, node));
      list.append(item);
    });
    group.append(list);
    const full = node.children.length >= catalog.maxChildren;
    const add = (make, focusSuffix) => () => {
      const child = make();
      node.children.push(child);
      changed(true, `rule-${child.id}-${focusSuffix}`);
    };
    group.append(h("div", { class: "rule-actions" },
      h("button", { type: "button", class: "button button-small", id: `${idBase}-add-condition`, disabled: full, onclick: add(newCondition, "field"), text: "+ Condition" }),
      catalog.criteria.length ? h("button", { type: "button", class: "button button-small", id: `${idBase}-add-criterion`, disabled: full, onclick: add(newCriterion, "type"), text: "+ Order criterion" }) : null,
      depth < catalog.maxDepth ? h("button", {
        type: "button", class: "button button-small", id: `${idBase}-add-group`, disabled: full,
        onclick: add(() => { const g = emptyGroup(node.logic === "AND" ? "OR" : "AND"); g.children.push(newCondition()); return g; }, "logic"),
        text: "+ Group",
      }) : null));
    return group;
  }

  function render(focusId) {
    rootEl.replaceChildren(renderGroup(state.root, null, 1));
    if (focusId) {
      const target = document.getElementById(focusId) || document.getElementById(`${focusId}-field`) || document.getElementById(`${focusId}-type`);
      if (target) target.focus();
    }
  }

  // --- The live count --------------------------------------------------------------------

  function changed(structural, focusId) {
    clearErrors();
    if (structural) render(focusId);
    schedulePreview();
  }

  function setCount(html, mode) {
    countEl.classList.toggle("is-idle", mode === "idle");
    countEl.classList.toggle("is-stale", mode === "stale");
    if (typeof html === "string") countEl.innerHTML = html;
  }

  function schedulePreview() {
    clearTimeout(state.previewTimer);
    const unfinished = incomplete(state.root);
    if (unfinished) {
      if (state.previewAbort) state.previewAbort.abort();
      state.previewSeq += 1;
      const first = state.root.children.length === 0;
      setCount(first ? "<span>Add a condition to see how many customers match.</span>" : "<span>Complete the rule to see how many customers match.</span>", "idle");
      sampleEl.replaceChildren();
      return;
    }
    setCount(null, "stale");
    state.previewTimer = setTimeout(preview, PREVIEW_DELAY_MS);
  }

  async function preview() {
    if (state.previewAbort) state.previewAbort.abort();
    const controller = new AbortController();
    state.previewAbort = controller;
    const seq = ++state.previewSeq;
    try {
      const response = await api("POST", `${API}preview/`, { rules: toRule(state.root) }, controller.signal);
      if (seq !== state.previewSeq) return;
      const body = await response.json();
      if (!response.ok) {
        showErrors(body, false);
        setCount("<span>This rule cannot be counted yet: see the highlighted parts.</span>", "idle");
        sampleEl.replaceChildren();
        return;
      }
      const count = body.count;
      countEl.replaceChildren(
        h("span", { class: "count-figure", "data-count": String(count), text: count.toLocaleString("en-US") }),
        h("span", { text: count === 1 ? " customer matches" : " customers match" }));
      setCount(null, "fresh");
      sampleEl.replaceChildren(...body.sample.map((c) => h("li", { class: "badge", text: customerName(c) })));
      if (count > body.sample.length) sampleEl.append(h("li", { class: "muted small", text: `and ${(count - body.sample.length).toLocaleString("en-US")} more` }));
    } catch (error) {
      if (error.name === "AbortError") return;
      setCount("<span>The count is unavailable right now.</span>", "idle");
    }
  }

  function customerName(c) {
    const name = `${c.first_name || ""} ${c.last_name || ""}`.trim();
    return name || c.email || c.phone || `#${c.number}`;
  }

  // --- Errors from the API, shown where they belong ------------------------------------

  function clearErrors() {
    errorsEl.hidden = true;
    errorsEl.replaceChildren();
    form.querySelectorAll(".is-invalid").forEach((el) => el.classList.remove("is-invalid"));
    form.querySelectorAll("[aria-invalid]").forEach((el) => el.removeAttribute("aria-invalid"));
    form.querySelectorAll(".field-error.from-api").forEach((el) => el.remove());
  }

  // `rules.rules.1.rules.0.value` -> the node, and the control named by the last part.
  function locate(attr) {
    const parts = String(attr || "").split(".");
    if (parts[0] !== "rules") return null;
    let node = state.root;
    let i = 1;
    while (i < parts.length && parts[i] === "rules" && node.kind === "group" && /^\d+$/.test(parts[i + 1] || "")) {
      node = node.children[Number(parts[i + 1])];
      if (!node) return null;
      i += 2;
    }
    return { node, control: parts.slice(i).join(".") };
  }

  function showErrors(body, focus) {
    clearErrors();
    const general = [];
    (body.errors || []).forEach((error) => {
      if (error.attr === "name" || error.attr === "description") {
        const control = error.attr === "name" ? nameInput : descriptionInput;
        control.setAttribute("aria-invalid", "true");
        control.after(h("p", { class: "field-error from-api", text: error.detail }));
        general.push(`${humanize(error.attr)}: ${error.detail}`);
        return;
      }
      const place = locate(error.attr);
      const el = place && place.node && document.getElementById(`rule-${place.node.id}`);
      if (!el) {
        general.push(error.detail);
        return;
      }
      el.classList.add("is-invalid");
      const controlId = place.control ? `rule-${place.node.id}-${place.control.split(".")[0]}` : null;
      const control = controlId && document.getElementById(controlId);
      if (control) control.setAttribute("aria-invalid", "true");
      const message = h("p", { class: "field-error from-api", text: error.detail });
      if (el.classList.contains("rule-group")) el.querySelector(".rule-group-head").after(message);
      else el.append(message);
      general.push(`${place.node.kind === "group" ? "A group" : "A " + (place.node.kind === "condition" ? "condition" : "criterion")}: ${error.detail}`);
    });
    if (general.length) {
      errorsEl.replaceChildren(h("p", { text: "Please check:" }), h("ul", {}, general.map((text) => h("li", { text }))));
      errorsEl.hidden = false;
      if (focus) errorsEl.focus();
    }
  }

  // --- The API -------------------------------------------------------------------------------

  function api(method, url, body, signal) {
    const headers = { Accept: "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (method !== "GET") headers["X-CSRFToken"] = csrfToken;
    return fetch(url, {
      method, headers, signal, credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  }

  async function loadOptions() {
    // Optional pickers: points of sale and agents, when those endpoints answer.
    const load = async (url, label) => {
      try {
        const response = await api("GET", url);
        if (!response.ok) return null;
        const body = await response.json();
        return (body.results || []).map((row) => ({ value: row.id, label: label(row) }));
      } catch {
        return null;
      }
    };
    const [pos, agents] = await Promise.all([
      load("/api/v1/pos/?page_size=500", (p) => `${p.name || p.code}${p.code ? ` (${p.code})` : ""}`),
      load("/api/v1/agents/?page_size=500", (a) => `${a.first_name || ""} ${a.last_name || ""}`.trim() || a.email || a.id),
    ]);
    state.options.pos = pos;
    state.options.agents = agents;
  }

  async function refreshList() {
    const response = await api("GET", `${API}?page_size=500&ordering=name`);
    if (!response.ok) return;
    state.segments = (await response.json()).results;
    renderList();
  }

  function renderList() {
    const current = state.segment && state.segment.id;
    if (!state.segments.length) {
      rowsEl.replaceChildren(h("tr", {}, h("td", { colspan: "3", class: "empty", text: "No segments yet." })));
      return;
    }
    rowsEl.replaceChildren(...state.segments.map((s) => h("tr", { "data-segment-id": s.id, class: s.id === current ? "is-current" : null, "aria-current": s.id === current ? "true" : null },
      h("td", {}, h("button", { type: "button", class: "segment-name-button", text: s.name, "aria-label": `Open segment ${s.name}`, onclick: () => open(s) })),
      h("td", { class: "cell-figure", text: s.customers_count === null ? "—" : s.customers_count.toLocaleString("en-US") }),
      h("td", {}, h("span", { class: `badge badge-status-${s.active ? "active" : "inactive"}`, text: s.active ? "Active" : "Inactive" })))));
  }

  function showState() {
    const s = state.segment;
    // The address names the segment being edited, so a reload comes back to it.
    const address = s ? `?segment=${encodeURIComponent(s.id)}` : window.location.pathname;
    window.history.replaceState(null, "", address);
    headingEl.textContent = s ? `Edit “${s.name}”` : "New segment";
    stateEl.hidden = !s;
    if (s) {
      stateEl.className = `badge badge-status-${s.active ? "active" : "inactive"}`;
      stateEl.textContent = s.active ? "Active" : "Inactive";
    }
    if (activateButton) activateButton.hidden = !s || s.active;
    if (deactivateButton) deactivateButton.hidden = !s || !s.active;
    if (newButton) newButton.hidden = !s;
  }

  function open(segment) {
    state.segment = segment;
    nameInput.value = segment ? segment.name : "";
    descriptionInput.value = segment ? segment.description : "";
    if (segment) {
      const rule = fromRule(segment.rules);
      state.root = rule.kind === "group" ? rule : { ...emptyGroup(), children: [rule] };
    } else {
      state.root = emptyGroup();
    }
    savedEl.textContent = "";
    clearErrors();
    showState();
    renderList();
    render();
    schedulePreview();
    nameInput.focus();
  }

  async function save(event) {
    event.preventDefault();
    if (!CAN_WRITE) return;
    clearErrors();
    const payload = { name: nameInput.value.trim(), description: descriptionInput.value.trim(), rules: toRule(state.root) };
    const editing = state.segment;
    const response = await api(editing ? "PATCH" : "POST", editing ? `${API}${editing.id}/` : API, payload);
    const body = await response.json();
    if (!response.ok) {
      showErrors(body, true);
      savedEl.textContent = "";
      return;
    }
    state.segment = body;
    savedEl.textContent = `Saved: ${body.customers_count === 1 ? "1 customer" : `${body.customers_count} customers`}.`;
    showState();
    await refreshList();
  }

  async function setActive(active) {
    const s = state.segment;
    if (!s) return;
    const response = await api("POST", `${API}${s.id}/${active ? "activate" : "deactivate"}/`);
    if (response.status !== 204) {
      showErrors(await response.json(), true);
      return;
    }
    const fresh = await api("GET", `${API}${s.id}/`);
    state.segment = await fresh.json();
    savedEl.textContent = active ? "Activated." : "Deactivated: campaigns no longer use it.";
    showState();
    await refreshList();
    (active ? deactivateButton : activateButton).focus();
  }

  // --- Start ---------------------------------------------------------------------------------

  async function start() {
    try {
      const [catalogResponse] = await Promise.all([api("GET", `${API}fields/`), loadOptions()]);
      if (!catalogResponse.ok) throw new Error(`catalog: ${catalogResponse.status}`);
      loadCatalog(await catalogResponse.json());
    } catch {
      document.getElementById("builder-loading").textContent = "The builder could not load its catalog. Reload the page to try again.";
      return;
    }
    document.getElementById("builder-loading").remove();
    form.hidden = false;
    form.addEventListener("submit", save);
    if (newButton) newButton.addEventListener("click", () => open(null));
    if (activateButton) activateButton.addEventListener("click", () => setActive(true));
    if (deactivateButton) deactivateButton.addEventListener("click", () => setActive(false));
    await refreshList();
    const wanted = new URLSearchParams(window.location.search).get("segment");
    const initial = state.segments.find((s) => s.id === wanted);
    showState();
    if (initial) open(initial);
    else { render(); schedulePreview(); }
  }

  start();
})();
