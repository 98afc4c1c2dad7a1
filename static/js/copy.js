// A "Copy" button for a value shown once (a new API key). Without JavaScript, or
// without the clipboard API, the button stays hidden and the value can be selected.
document.querySelectorAll("[data-copy-target]").forEach((button) => {
  const target = document.getElementById(button.dataset.copyTarget);
  if (!target || !navigator.clipboard) return;
  button.hidden = false;
  button.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(target.textContent.trim());
      button.textContent = "Copied";
    } catch {
      button.textContent = "Select and copy";
    }
    setTimeout(() => {
      button.textContent = "Copy";
    }, 2000);
  });
});
