/* Co-Pilot page (templates/copilot/copilot.html): switch between the Mentor and the Assistant without reloading,
   so the mentor's answer and the assistant's analysis both stay on the page. The address follows the tab
   (history.replaceState), so a reload opens the same one. Without this script the tabs are plain links. */
(function () {
  "use strict";

  // htmx runs the scripts of every page it swaps in; one set of listeners on the document is enough.
  if (window.copilotTabsReady) { return; }
  window.copilotTabsReady = true;

  var TAB = "[data-copilot-tabs] [data-tab]";

  function select(tab) {
    var tabs = tab.closest("[data-copilot-tabs]").querySelectorAll("[data-tab]");
    Array.prototype.forEach.call(tabs, function (other) {
      var on = other === tab;
      other.classList.toggle("active", on);
      other.setAttribute("aria-selected", on ? "true" : "false");
      var panel = document.getElementById(other.getAttribute("aria-controls"));
      if (panel) { panel.hidden = !on; }
    });
    history.replaceState(history.state, "", tab.href);
  }

  document.addEventListener("click", function (event) {
    var tab = event.target.closest ? event.target.closest(TAB) : null;
    // A middle click or a modified click opens the tab's page elsewhere, as links do.
    if (!tab || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) { return; }
    event.preventDefault();
    select(tab);
  });

  // Arrow keys move between the tabs (the WAI-ARIA tabs pattern).
  document.addEventListener("keydown", function (event) {
    var tab = event.target.closest ? event.target.closest(TAB) : null;
    if (!tab || (event.key !== "ArrowLeft" && event.key !== "ArrowRight")) { return; }
    var tabs = Array.prototype.slice.call(tab.closest("[data-copilot-tabs]").querySelectorAll("[data-tab]"));
    var step = event.key === "ArrowRight" ? 1 : tabs.length - 1;
    var next = tabs[(tabs.indexOf(tab) + step) % tabs.length];
    event.preventDefault();
    select(next);
    next.focus();
  });
})();
