/* Behaviour every page may use, declared in the markup (the Content-Security-Policy allows no inline handlers). */
(function () {
  "use strict";

  // Once per page load: htmx runs this file again when a boosted page brings it along.
  if (window.appBehaviourReady) { return; }
  window.appBehaviourReady = true;

  // A secret shown once (a new API key): focusing the field selects it, ready to copy.
  document.addEventListener("focusin", function (event) {
    if (event.target.matches("input[data-select-on-focus]")) { event.target.select(); }
  });
})();
