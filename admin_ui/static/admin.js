// Behaviour the pages used to put in inline handlers, which the Content-Security-Policy refuses:
// <form data-confirm="…"> asks before submitting; <button data-print> prints the page.
document.addEventListener("submit", (event) => {
  const question = event.target.dataset && event.target.dataset.confirm;
  if (question && !window.confirm(question)) event.preventDefault();
});
document.addEventListener("click", (event) => {
  if (event.target.closest("[data-print]")) window.print();
});
