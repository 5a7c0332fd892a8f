// Widgets on a static page, with nothing fetched from the network (loaded before embed-amd.js).
//
// 1. The widget manager's fonts (its icons) are found beside its own module: tell RequireJS that
//    the module lives in this site's _static/html-manager, not at the page's own address.
// 2. ipywidgets typesets widget labels through MathJax 2's MathJax.Hub.Queue; the site runs
//    MathJax 3. Give it that one call, done the MathJax 3 way, once MathJax has loaded.
(function () {
  var root = document.documentElement.dataset.content_root || "";
  require.config({ paths: { "@jupyter-widgets/html-manager/dist": root + "_static/html-manager" } });
  window.addEventListener("load", function () {
    var mathjax = window.MathJax;
    if (!mathjax || !mathjax.version || mathjax.Hub) {
      return;
    }
    mathjax.Hub = {
      Queue: function (job) {
        var element = job && job[2];
        mathjax.startup.promise.then(function () {
          return mathjax.typesetPromise(element ? [element] : undefined);
        });
      },
    };
  });
})();
