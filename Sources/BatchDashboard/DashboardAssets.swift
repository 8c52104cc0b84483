/// The dashboard's stylesheet and its one small script, served by the app itself: no build
/// step, no framework, nothing fetched from elsewhere at run time.
enum DashboardAssets {
    /// Bumped when the assets change, so browsers fetch them again (`?v=`).
    static let version = "4"

    static let css = """
        :root { --bg: #f6f7f9; --fg: #1d2330; --muted: #5b6475; --line: #dde1e8; --card: #fff; --accent: #2f5fd0;
          --ok: #1d7a46; --bad: #b42318; --warn: #b25e09; --run: #2f5fd0; --idle: #6b7280; }
        @media (prefers-color-scheme: dark) {
          :root { --bg: #14171c; --fg: #e4e7ec; --muted: #9aa3b2; --line: #2c323c; --card: #1b1f26; --accent: #7aa2ff;
            --ok: #4cc38a; --bad: #ff6b5f; --warn: #f5a524; --run: #7aa2ff; --idle: #9aa3b2; }
        }
        * { box-sizing: border-box; }
        body { margin: 0; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif;
          background: var(--bg); color: var(--fg); }
        a { color: var(--accent); text-decoration: none; } a:hover { text-decoration: underline; }
        header { display: flex; flex-wrap: wrap; align-items: center; gap: .25rem 1.25rem; padding: .6rem 1rem;
          background: var(--card); border-bottom: 1px solid var(--line); }
        header .brand { font-weight: 700; color: var(--fg); }
        header nav { display: flex; flex-wrap: wrap; gap: .9rem; }
        header nav a.here { font-weight: 600; color: var(--fg); }
        header .who { margin-left: auto; color: var(--muted); font-size: .9rem; }
        main { max-width: 1200px; margin: 0 auto; padding: 1rem; }
        h1 { font-size: 1.35rem; margin: .2rem 0 1rem; } h2 { font-size: 1.1rem; margin: 1.5rem 0 .5rem; }
        .card { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: .8rem 1rem; margin-bottom: 1rem; }
        .grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(140px, 1fr)); gap: .6rem 1rem; }
        .grid > div > span:first-child { display: block; color: var(--muted); font-size: .8rem; }
        .table-wrap { overflow-x: auto; background: var(--card); border: 1px solid var(--line); border-radius: 8px; }
        table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
        th, td { text-align: left; padding: .4rem .6rem; border-bottom: 1px solid var(--line); white-space: nowrap; }
        th { font-size: .8rem; color: var(--muted); font-weight: 600; background: var(--card); }
        td.num, th.num { text-align: right; }
        td.wrap { white-space: normal; min-width: 14rem; }
        tr:last-child td { border-bottom: 0; }
        tr.flag td { background: color-mix(in srgb, var(--warn) 10%, transparent); }
        tr.fail td { background: color-mix(in srgb, var(--bad) 10%, transparent); }
        .badge { display: inline-block; padding: 0 .45rem; border-radius: 999px; font-size: .78rem; font-weight: 600;
          border: 1px solid currentColor; }
        .s-completed, .s-live { color: var(--ok); } .s-failed, .s-unknown, .s-dead { color: var(--bad); }
        .s-stopped, .s-stopping, .s-stale { color: var(--warn); }
        .s-started, .s-starting, .s-claimed, .s-running { color: var(--run); }
        .s-abandoned, .s-ready, .s-stopped-worker { color: var(--idle); }
        .muted { color: var(--muted); } .small { font-size: .85rem; }
        .flow { display: flex; flex-wrap: wrap; gap: .3rem; align-items: center; }
        .flow .arrow { color: var(--muted); }
        progress { width: 100%; height: .7rem; accent-color: var(--accent); }
        form.filters { display: flex; flex-wrap: wrap; gap: .5rem; align-items: end; margin-bottom: 1rem; }
        form.filters label { display: flex; flex-direction: column; font-size: .8rem; color: var(--muted); }
        input, select, textarea, button { font: inherit; padding: .35rem .5rem; border: 1px solid var(--line);
          border-radius: 6px; background: var(--card); color: var(--fg); }
        textarea { width: 100%; min-height: 5rem; font-family: ui-monospace, monospace; }
        button { cursor: pointer; background: var(--accent); color: #fff; border-color: var(--accent); }
        button.danger { background: var(--bad); border-color: var(--bad); }
        button.quiet { background: var(--card); color: var(--fg); border-color: var(--line); }
        .actions { display: flex; flex-wrap: wrap; gap: .5rem; margin: .5rem 0 1rem; }
        .actions form { margin: 0; }
        .notice { padding: .6rem .9rem; border-radius: 8px; margin-bottom: 1rem; border: 1px solid var(--line); background: var(--card); }
        .notice.ok { border-color: var(--ok); } .notice.bad { border-color: var(--bad); }
        .pager { display: flex; gap: 1rem; margin: .8rem 0; }
        code, .mono { font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: .88em; }
        svg.chart { width: 100%; height: auto; display: block; }
        svg.chart text { fill: var(--muted); font-size: 11px; }
        svg.chart .bar { fill: var(--accent); opacity: .75; } svg.chart .line { fill: none; stroke: var(--ok); stroke-width: 2; }
        svg.chart .axis { stroke: var(--line); }
        [data-live].stale { opacity: .6; }
        .live-dot { display: inline-block; width: .55rem; height: .55rem; border-radius: 50%; background: var(--ok); margin-right: .3rem; }
        @media (max-width: 700px) {
          main { padding: .6rem; } .wide { display: none; } th, td { padding: .35rem .4rem; }
          header .who { margin-left: 0; width: 100%; }
        }
        """

    /// Refreshes every element with `data-live="<url>"` every 2 s while the page is visible,
    /// replacing its content with the server's fragment. A fragment answered with
    /// `X-Live-Done: 1` is the last one; with `data-reload-when-done` the page then reloads once
    /// (its actions change when the execution ends), dropping an action's `?done=` notice. Forms with `data-confirm` ask first.
    static let script = """
        (function () {
          'use strict';
          document.addEventListener('submit', function (event) {
            var message = event.target.getAttribute('data-confirm');
            if (message && !window.confirm(message)) { event.preventDefault(); }
          });
          var nodes = Array.prototype.slice.call(document.querySelectorAll('[data-live]'));
          if (!nodes.length) { return; }
          function refresh(node) {
            if (node.getAttribute('data-done')) { return; }
            fetch(node.getAttribute('data-live'), { credentials: 'same-origin', cache: 'no-store',
                                                   headers: { 'Accept': 'text/html' } })
              .then(function (response) {
                if (!response.ok) { throw new Error('HTTP ' + response.status); }
                var done = response.headers.get('X-Live-Done') === '1';
                return response.text().then(function (html) {
                  node.innerHTML = html;
                  node.classList.remove('stale');
                  if (done) {
                    node.setAttribute('data-done', '1');
                    if (node.hasAttribute('data-reload-when-done')) {
                      // Reload without an action's notice (?done=stop), which the new status outdates.
                      var url = new URL(window.location.href);
                      url.searchParams.delete('done');
                      window.location.replace(url.toString());
                    }
                  }
                });
              })
              .catch(function () { node.classList.add('stale'); });
          }
          function tick() {
            if (!document.hidden) { nodes.forEach(refresh); }
            window.setTimeout(tick, 2000);
          }
          window.setTimeout(tick, 2000);
        })();
        """
}
