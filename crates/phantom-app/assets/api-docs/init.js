// Starts Swagger UI on the document the server generates. Everything it loads is served by
// this server: no CDN, and no schema validator badge (validatorUrl: null).
window.addEventListener("load", function () {
  window.ui = SwaggerUIBundle({
    url: "/api/schema/",
    dom_id: "#swagger-ui",
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
    deepLinking: true,
    validatorUrl: null,
    persistAuthorization: false,
  });
});
