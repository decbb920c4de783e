// Persian edition: right-to-left layout and Persian digits in running text.
(function () {
  var root = document.documentElement;
  if ((root.getAttribute("lang") || "").indexOf("fa") !== 0) return;
  // The theme writes <html lang="fa"> but no dir; set it in <head>, before layout.
  root.setAttribute("dir", "rtl");

  // Numbers standing on their own in prose take Persian digits, separators and percent sign.
  // Identifiers (S0.Q1, CIFAR-10, Conv2d), code, math and output tables keep Latin digits.
  var SKIP = "code, pre, script, style, kbd, .math, mjx-container, .cell_output, .cnnbook-table, .highlight, .latin";
  var NUMBER = /(^|[^A-Za-z0-9_.\-])(\d+(?:[.,]\d+)*)(\s?%)?(?![A-Za-z0-9_])/g;
  var SCIENTIFIC = /(\d+(?:\.\d+)?[eE][+\-]?\d+)/;   // 9.3e-18 stays a Latin token, like code
  var DIGITS = "۰۱۲۳۴۵۶۷۸۹";
  function persian(number) {
    return number.replace(/\d/g, function (d) { return DIGITS[+d]; })
                 .replace(/,/g, "\u066C").replace(/\./g, "\u066B");
  }
  function convert(text) {
    return text.split(SCIENTIFIC).map(function (part, index) {
      return index % 2 ? part : part.replace(NUMBER, function (all, before, number, percent) {
        return before + persian(number) + (percent ? percent.replace("%", "\u066A") : "");
      });
    }).join("");
  }
  document.addEventListener("DOMContentLoaded", function () {
    var walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT, {
      acceptNode: function (node) {
        var parent = node.parentElement;
        return parent && !parent.closest(SKIP) && /\d/.test(node.nodeValue)
          ? NodeFilter.FILTER_ACCEPT : NodeFilter.FILTER_REJECT;
      }
    });
    var nodes = [];
    while (walker.nextNode()) nodes.push(walker.currentNode);
    nodes.forEach(function (node) { node.nodeValue = convert(node.nodeValue); });
  });
})();
