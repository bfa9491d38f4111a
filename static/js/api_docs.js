/* Starts Swagger UI on the API documentation page (templates/drf_spectacular/swagger_ui.html) from the page's
   data attributes: the schema's address, drf-spectacular's Swagger UI settings, and the CSRF token that "Try it
   out" needs for writes when the reader is signed in (session authentication). */
(function () {
  "use strict";

  var root = document.getElementById("swagger-ui");
  var settings = JSON.parse(root.dataset.settings || "{}");

  function addCsrfToken(request) {
    if (request.method && request.method !== "GET" && request.credentials === "same-origin") {
      request.headers[root.dataset.csrfHeader] = root.dataset.csrfToken;
    }
    return request;
  }

  window.ui = SwaggerUIBundle(Object.assign({
    url: root.dataset.schemaUrl,
    dom_id: "#swagger-ui",
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
    requestInterceptor: addCsrfToken
  }, settings));
})();
