// Bulk actions on a list: "Select all", a live count, and only the field the chosen action needs.
(function () {
  const form = document.getElementById("bulk-form");
  if (!form) return;
  const picks = () => Array.from(document.querySelectorAll("input.bulk-pick[form=bulk-form]"));
  const all = form.querySelector("[data-bulk-all]");
  const count = form.querySelector(".bulk-count");
  const submit = form.querySelector("[data-bulk-submit]");
  const action = form.querySelector("[data-bulk-action]");

  function chosenDocuments() {
    return new Set(picks().filter((box) => box.checked).map((box) => box.value));
  }

  function refresh() {
    const boxes = picks();
    const chosen = chosenDocuments().size;
    count.textContent = chosen === 1 ? "1 document selected" : `${chosen} documents selected`;
    submit.disabled = chosen === 0;
    all.checked = boxes.length > 0 && boxes.every((box) => box.checked);
    all.indeterminate = !all.checked && boxes.some((box) => box.checked);
  }

  function showFields() {
    form.querySelectorAll("[data-bulk-for]").forEach((field) => {
      const shown = field.dataset.bulkFor === action.value;
      field.hidden = !shown;
      field.querySelectorAll("input, select").forEach((input) => { input.disabled = !shown; });
    });
  }

  all.addEventListener("change", () => {
    picks().forEach((box) => { box.checked = all.checked; });
    refresh();
  });
  // A document listed twice (two matching pages) is one choice: both boxes follow each other.
  picks().forEach((box) => box.addEventListener("change", () => {
    picks().filter((other) => other.value === box.value).forEach((other) => { other.checked = box.checked; });
    refresh();
  }));
  action.addEventListener("change", showFields);
  form.addEventListener("submit", (event) => {
    if (action.value === "trash" && !window.confirm(`Move ${chosenDocuments().size} document(s) to the trash?`)) {
      event.preventDefault();
    }
  });
  showFields();
  refresh();
})();
