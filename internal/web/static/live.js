// poolctl dashboard: says when a page's live stream is lost and when it is
// back, so that a page never passes off the last state it got as current.
//
// Every live stream (pages and logs) starts with an event "hello" (see
// live.go). When an EventSource fails, #live-status says "Disconnected —
// reconnecting…" (the sse extension and the browser keep retrying). On the
// next hello the notice goes; a page stream then sends every live part anew
// by itself, while a log page is reloaded, because its stream starts again
// from where the page began.
(function () {
  'use strict';
  var lost = false;
  var leaving = false;
  var hooked = new WeakSet();

  function region() { return document.getElementById('live-status'); }

  function showLost() {
    var el = region();
    if (!el || leaving || lost) { return; }
    lost = true;
    var p = document.createElement('p');
    p.className = 'live-lost';
    p.textContent = 'Disconnected \u2014 reconnecting\u2026';
    el.replaceChildren(p);
  }

  function onHello(elt) {
    if (!lost) { return; }
    lost = false;
    var el = region();
    if (el) { el.replaceChildren(); }
    if (elt && elt.hasAttribute('sse-close')) { window.location.reload(); }
  }

  document.addEventListener('htmx:sseOpen', function (e) {
    var source = e.detail && e.detail.source;
    if (!source || hooked.has(source)) { return; }
    hooked.add(source);
    var elt = e.target;
    source.addEventListener('hello', function () { onHello(elt); });
  });
  document.addEventListener('htmx:sseError', showLost);
  // Leaving the page drops its stream; that is no outage.
  window.addEventListener('pagehide', function () { leaving = true; });
  window.addEventListener('beforeunload', function () { leaving = true; });
  window.addEventListener('pageshow', function () { leaving = false; });

  // A search box with data-filter-rows="#table" hides, as one types, the
  // rows whose data-search does not contain the text (case ignored).
  // Without JavaScript the form's GET filters the same way on the server.
  document.addEventListener('input', function (e) {
    var box = e.target;
    if (!box.matches || !box.matches('input[data-filter-rows]')) { return; }
    var table = document.querySelector(box.getAttribute('data-filter-rows'));
    if (!table) { return; }
    var q = box.value.trim().toLowerCase();
    table.querySelectorAll('tbody tr[data-search]').forEach(function (tr) {
      tr.hidden = q !== '' && tr.getAttribute('data-search').toLowerCase().indexOf(q) < 0;
    });
  });
})();
