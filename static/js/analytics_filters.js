// Typing a date in the analytics filter means custom dates: switch the period menu to "Custom dates" so the
// dates are what the filter sends (a named period would otherwise win over them).
document.addEventListener("change", (event) => {
  const form = event.target.closest(".analytics-filters");
  if (form && event.target.type === "date" && form.elements.period) {
    form.elements.period.value = "custom";
  }
}, true);
