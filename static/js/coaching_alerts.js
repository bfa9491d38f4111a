/* Live coaching tray (templates/coaching/partials/alert_tray.html): connection state, a short chime when a new
   alert arrives (WebAudio, no audio files) and the sound on/off toggle. htmx's ws extension does the rest. */
(function () {
  "use strict";

  var SOUND_KEY = "coaching-alert-sound";
  // Higher pitch for more urgent alerts; critical ones chime twice.
  var PITCH = { LOW: 523, MEDIUM: 659, HIGH: 784, CRITICAL: 988 };
  // 4503: the server's message bus is down (coaching/consumers.py); it closes with this because Daphne cannot
  // send WebSocket's own 1013 "try again later".
  var CLOSE_UNAVAILABLE = 4503;
  var CLOSE_TEXT = { 4401: "Signed out: reload the page to sign in again.", 4403: "Live coaching is not available to your role.",
                     1013: "Live coaching paused: reconnecting…" };
  // htmx's ws extension reconnects after 1006, 1011, 1012 and 1013 only, so the server's 4503 is handed to it as
  // 1013. It also counts retries only between successful opens, and such a socket opens before it closes: it
  // would retry every second for as long as the outage lasts. These closes are counted here instead, backing
  // off up to MAX_RETRY_MS; any frame (the tray comes first on every connect) ends the count.
  var MAX_RETRY_MS = 30000;
  var unavailable = 0;
  if (window.htmx && window.WebSocket) {
    var nativeOnclose = Object.getOwnPropertyDescriptor(window.WebSocket.prototype, "onclose");
    window.htmx.createWebSocket = function (url) {
      var socket = new window.WebSocket(url);
      Object.defineProperty(socket, "onclose", {
        configurable: true,
        get: function () { return nativeOnclose.get.call(socket); },
        set: function (handler) {
          nativeOnclose.set.call(socket, function (event) {
            if (event.code === CLOSE_UNAVAILABLE) {
              event = new window.CloseEvent("close", { code: 1013, reason: event.reason, wasClean: event.wasClean });
            }
            return handler.call(socket, event);
          });
        }
      });
      return socket;
    };
    window.htmx.config.wsReconnectDelay = function (retryCount) {
      var attempts = Math.min(Math.max(retryCount, unavailable), 10);
      var ceiling = Math.min(1000 * Math.pow(2, attempts), MAX_RETRY_MS);
      return ceiling / 2 + Math.random() * ceiling / 2;
    };
  }
  var audio = null;

  function soundOn() {
    try { return window.localStorage.getItem(SOUND_KEY) !== "off"; } catch (e) { return true; }
  }

  // Browsers only let a page make sound after the person interacted with it; the context is created then.
  function unlockAudio() {
    var Context = window.AudioContext || window.webkitAudioContext;
    if (!Context) { return; }
    if (!audio) { audio = new Context(); }
    if (audio.state === "suspended") { audio.resume(); }
  }

  function beep(frequency, start) {
    var oscillator = audio.createOscillator();
    var gain = audio.createGain();
    oscillator.type = "sine";
    oscillator.frequency.value = frequency;
    gain.gain.setValueAtTime(0.0001, start);
    gain.gain.exponentialRampToValueAtTime(0.2, start + 0.02);
    gain.gain.exponentialRampToValueAtTime(0.0001, start + 0.25);
    oscillator.connect(gain).connect(audio.destination);
    oscillator.start(start);
    oscillator.stop(start + 0.3);
  }

  function chime(priority) {
    if (!audio || audio.state !== "running" || !soundOn()) { return; }
    var now = audio.currentTime;
    beep(PITCH[priority] || PITCH.MEDIUM, now);
    if (priority === "CRITICAL") { beep(PITCH.CRITICAL, now + 0.3); }
  }

  function setStatus(state, text) {
    var status = document.getElementById("coaching-ws-status");
    if (status) {
      status.dataset.state = state;
      status.textContent = text;
    }
  }

  function syncToggle() {
    document.querySelectorAll(".coaching-sound-toggle").forEach(function (button) {
      var on = soundOn();
      button.setAttribute("aria-pressed", on ? "true" : "false");
      button.textContent = on ? "Sound on" : "Sound off";
    });
  }

  document.addEventListener("pointerdown", unlockAudio, true);
  document.addEventListener("keydown", unlockAudio, true);

  document.addEventListener("click", function (event) {
    var button = event.target.closest(".coaching-sound-toggle");
    if (!button) { return; }
    try { window.localStorage.setItem(SOUND_KEY, soundOn() ? "off" : "on"); } catch (e) { /* private mode */ }
    syncToggle();
  });

  document.addEventListener("htmx:wsOpen", function () { setStatus("live", "Live"); });
  document.addEventListener("htmx:wsClose", function (event) {
    var code = event.detail && event.detail.event ? event.detail.event.code : 0;
    if (code === 1013) { unavailable += 1; }
    setStatus("closed", CLOSE_TEXT[code] || "Reconnecting…");
  });

  // Only alerts pushed while the page is open carry `is-new`; the tray sent on (re)connect stays quiet.
  document.addEventListener("htmx:wsAfterMessage", function () {
    unavailable = 0;
    var fresh = document.querySelectorAll(".coaching-alert.is-new:not([data-announced])");
    var loudest = null;
    fresh.forEach(function (alert) {
      alert.dataset.announced = "1";
      var priority = alert.dataset.priority;
      if (!loudest || (PITCH[priority] || 0) > (PITCH[loudest] || 0)) { loudest = priority; }
    });
    if (loudest) { chime(loudest); }
  });

  document.addEventListener("htmx:load", syncToggle);
  syncToggle();
})();
