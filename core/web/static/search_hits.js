// Viewer opened from a search hit: keep the page it points at in view while the page images
// load, and bring that page's first highlighted word into view in its text.
(function () {
  const focus = document.querySelector("#pages figure.focus");
  if (!focus) return;
  const image = focus.querySelector("img");
  if (image && !image.complete) image.addEventListener("load", () => focus.scrollIntoView({ block: "start" }), { once: true });
  const mark = focus.querySelector(".ocr[open] mark");
  if (!mark) return;
  const text = mark.closest("pre");
  text.scrollTop += mark.getBoundingClientRect().top - text.getBoundingClientRect().top - text.clientHeight / 3;
})();
