// hotwsgi live reload. hotwsgi injects this script into the HTML pages of an
// app served with livereload on. It keeps an event stream (server-sent events)
// open to /__hotwsgi__/events and:
//   - reloads the page after each successful reload of the app's code;
//   - refreshes stylesheets in place after a CSS change (no navigation);
//   - shows a failed reload's error over the page, until the next good save;
//   - reloads once it reconnects to a server that restarted meanwhile.
// Everything shown comes from the server as text and goes into the page with
// textContent, never as HTML: a source line with <script> in it does not run.
(function () {
  "use strict";
  if (window.__hotwsgi) {
    return; // injected twice (a page that includes another one)
  }
  var me = document.currentScript;
  if (!me) {
    return; // not run from its own <script> tag: nothing tells us where the server is
  }
  var page = {
    events: me.getAttribute("data-events"),
    generation: Number(me.getAttribute("data-generation")),
    boot: me.getAttribute("data-boot"),
  };
  var state = (window.__hotwsgi = {
    page: page,
    connected: false,
    overlay: null,
    reloading: false,
    styleRefreshes: 0,
  });
  var retryDelay = 1000;

  function reload() {
    if (!state.reloading) {
      state.reloading = true;
      window.location.reload();
    }
  }

  function reloadStale() {
    // A page that keeps coming back stale (from a cache hotwsgi could not
    // switch off) would reload forever: give up after a few quick ones.
    var now = Date.now();
    var recent = [];
    try {
      recent = JSON.parse(window.sessionStorage.getItem("hotwsgi-reloads") || "[]").filter(function (t) {
        return now - t < 10000;
      });
      window.sessionStorage.setItem("hotwsgi-reloads", JSON.stringify(recent.concat([now])));
    } catch (e) {
      // no sessionStorage (a sandboxed frame): no guard either
    }
    if (recent.length >= 5) {
      console.warn("hotwsgi: this page reloaded 5 times in 10 s and still looks stale; reload it by hand");
      return;
    }
    reload();
  }

  function connect() {
    var source = new EventSource(page.events);
    source.addEventListener("hello", function (event) {
      retryDelay = 1000;
      var info = JSON.parse(event.data);
      if (info.boot !== page.boot || info.generation !== page.generation) {
        // The server restarted, or the code changed while we were not listening.
        reloadStale();
        return;
      }
      state.connected = true;
      if (info.error) {
        showOverlay(info.error);
      } else {
        hideOverlay();
      }
    });
    source.addEventListener("reload", reload);
    source.addEventListener("failed", function (event) {
      showOverlay(JSON.parse(event.data));
    });
    source.addEventListener("css", function (event) {
      refreshStyles(JSON.parse(event.data).paths);
    });
    source.onerror = function () {
      state.connected = false;
      if (source.readyState === EventSource.CLOSED) {
        // Not a network error (EventSource retries those by itself) but an
        // answer that is no event stream: try again, less and less often.
        window.setTimeout(connect, retryDelay);
        retryDelay = Math.min(retryDelay * 2, 30000);
      }
    };
  }

  // -- stylesheets ------------------------------------------------------------
  function baseName(path) {
    return path.split("/").pop();
  }

  function refreshStyles(paths) {
    var names = paths.map(baseName);
    var links = Array.prototype.slice.call(
      document.querySelectorAll('link[rel~="stylesheet" i][href]:not([data-hotwsgi-old])')
    );
    var hits = links.filter(function (link) {
      return names.indexOf(baseName(new URL(link.href, window.location.href).pathname)) >= 0;
    });
    // A changed file no <link> names (one that another stylesheet @imports): refresh them all.
    (hits.length ? hits : links).forEach(bustCache);
    state.styleRefreshes += 1;
  }

  function bustCache(link) {
    var url = new URL(link.href, window.location.href);
    url.searchParams.set("hotwsgi", Date.now().toString(36));
    var fresh = link.cloneNode(false);
    fresh.href = url.href;
    link.setAttribute("data-hotwsgi-old", "");
    // The old sheet stays until the new one has loaded, so the page does not flash unstyled.
    var done = function () {
      link.remove();
    };
    fresh.addEventListener("load", done);
    fresh.addEventListener("error", done);
    link.parentNode.insertBefore(fresh, link.nextSibling);
  }

  // -- the error overlay -------------------------------------------------------
  var CSS = [
    ":host { all: initial; position: fixed; inset: 0; z-index: 2147483647; overflow: auto;",
    "  background: rgba(20, 20, 24, 0.92); color: #eee; font: 14px/1.5 ui-monospace, Menlo, Consolas, monospace; }",
    ".box { max-width: 980px; margin: 40px auto; padding: 24px 28px; background: #1d1d22;",
    "  border-top: 4px solid #e5484d; border-radius: 4px; }",
    "h1 { margin: 0 0 12px; font-size: 16px; color: #ff8589; font-weight: 600; }",
    ".summary { margin: 0 0 8px; font-size: 15px; color: #fff; white-space: pre-wrap; }",
    ".where { margin: 0 0 16px; color: #9cdcfe; }",
    "pre { margin: 0 0 16px; padding: 12px; background: #111114; overflow: auto; white-space: pre; }",
    ".line { display: block; color: #aaa; }",
    ".hit { color: #fff; background: #5c1f22; }",
    ".hint { margin: 0; color: #aaa; }",
    "button { position: absolute; top: 12px; right: 16px; background: none; border: 0; color: #aaa;",
    "  font-size: 24px; cursor: pointer; }",
  ].join("\n");

  function add(parent, tag, className, text) {
    var node = document.createElement(tag);
    if (className) {
      node.className = className;
    }
    if (text !== undefined) {
      node.textContent = text;
    }
    parent.appendChild(node);
    return node;
  }

  function showOverlay(error) {
    hideOverlay();
    var host = document.createElement("hotwsgi-error-overlay");
    var root = host.attachShadow ? host.attachShadow({ mode: "open" }) : host;
    add(root, "style", null, CSS);
    var close = add(root, "button", null, "\u00d7");
    close.title = "Hide (it comes back with the next failed reload)";
    close.addEventListener("click", hideOverlay);
    var box = add(root, "div", "box");
    add(box, "h1", null, "hotwsgi: reload failed, the last good code is still serving");
    add(box, "p", "summary", error.error || "reload failed");
    if (error.file) {
      add(box, "p", "where", error.file + (error.line ? ", line " + error.line : ""));
    }
    if (error.excerpt && error.excerpt.length) {
      var source = add(box, "pre", "excerpt");
      error.excerpt.forEach(function (row) {
        var number = String(row[0]);
        while (number.length < 5) {
          number = " " + number;
        }
        add(source, "span", row[0] === error.line ? "line hit" : "line", number + "  " + row[1]);
      });
    }
    if (error.traceback) {
      add(box, "pre", "traceback", error.traceback);
    }
    add(box, "p", "hint", "Fix the file and save: this page reloads by itself.");
    (document.body || document.documentElement).appendChild(host);
    state.overlay = host;
  }

  function hideOverlay() {
    if (state.overlay) {
      state.overlay.remove();
      state.overlay = null;
    }
  }

  connect();
})();
