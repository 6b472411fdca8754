// The two things the pages do with JavaScript, which they work without: copying the clone
// URL, and marking a range of lines (#L10-L20) that CSS's :target cannot.
"use strict";
document.addEventListener("click", (event) => {
  const button = event.target.closest("button#copy");
  if (!button) return;
  const url = document.getElementById("clone-url");
  navigator.clipboard.writeText(url.value).then(() => { button.textContent = "Copied"; }, () => url.select());
});
function markLines() {
  for (const row of document.querySelectorAll("tr.marked")) row.classList.remove("marked");
  const range = /^#L(\d+)-L(\d+)$/.exec(location.hash);
  if (!range) return;
  const [first, last] = [Number(range[1]), Number(range[2])].sort((a, b) => a - b);
  for (let n = first; n <= last && n - first < 100000; n++) {
    const row = document.getElementById("L" + n);
    if (!row) break;
    row.classList.add("marked");
  }
  const top = document.getElementById("L" + first);
  if (top) top.scrollIntoView();
}
window.addEventListener("hashchange", markLines);
document.addEventListener("DOMContentLoaded", markLines);
