/**
 * The report's one style sheet. It is allowed by its SHA-256 in the page's Content-Security-Policy, so it must be
 * byte-for-byte what the <style> element holds: a constant, never built from input.
 */
export const REPORT_CSS = `
:root{--crit:#8b0000;--high:#c0392b;--med:#d68910;--low:#2e86c1;--info:#7f8c8d;--ink:#1c2833;--muted:#566573;--line:#d5d8dc;--bg:#fbfcfc}
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;color:var(--ink);background:var(--bg)}
header,main,footer{max-width:1180px;margin:0 auto;padding:12px 24px}
header{border-bottom:2px solid var(--ink)}
h1{margin:8px 0 2px;font-size:24px}
h2{font-size:19px;margin:18px 0 8px}
h3{font-size:15px;margin:16px 0 6px;color:var(--muted);text-transform:uppercase;letter-spacing:.04em}
.sub{margin:0;color:var(--muted)}
.summary{list-style:none;padding:0;margin:10px 0;display:flex;gap:14px;flex-wrap:wrap}
.summary .n{font-weight:700;font-size:16px}
.badge{display:inline-block;padding:1px 7px;border-radius:4px;color:#fff;font-size:11px;font-weight:700;letter-spacing:.04em;vertical-align:middle}
.badge.sev-critical{background:var(--crit)}.badge.sev-high{background:var(--high)}.badge.sev-medium{background:var(--med)}
.badge.sev-low{background:var(--low)}.badge.sev-info{background:var(--info)}
nav ol.toc{padding-left:22px}
nav a{color:var(--ink);text-decoration:none}
nav a:hover{text-decoration:underline}
.incident{background:#fff;border:1px solid var(--line);border-left:6px solid var(--info);border-radius:6px;padding:4px 18px 14px;margin:18px 0}
.incident.sev-critical{border-left-color:var(--crit)}.incident.sev-high{border-left-color:var(--high)}
.incident.sev-medium{border-left-color:var(--med)}.incident.sev-low{border-left-color:var(--low)}
dl.meta{display:grid;grid-template-columns:max-content 1fr;gap:2px 14px;margin:6px 0}
dl.meta dt,dl.facts dt{color:var(--muted)}
dl.meta dd,dl.facts dd{margin:0}
dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:0 10px;margin:4px 0 0;font-size:12px}
table{border-collapse:collapse;width:100%;table-layout:fixed;font-size:13px}
th,td{border-bottom:1px solid var(--line);padding:5px 6px;text-align:left;vertical-align:top}
th{background:#f2f3f4}
table.steps th:nth-child(1){width:34px}table.steps th:nth-child(2){width:150px}table.steps th:nth-child(3){width:130px}
table.steps th:nth-child(4){width:84px}table.steps th:nth-child(6){width:240px}
table.findings-list th:nth-child(1){width:84px}table.findings-list th:nth-child(2){width:150px}
table.findings-list th:nth-child(3){width:170px}table.findings-list th:nth-child(5){width:240px}
table.links th:nth-child(1){width:80px}table.links th:nth-child(2){width:160px}table.links th:nth-child(3){width:84px}
h1,h2,td.text,dd,.step-title,code,pre,nav li,.fid{overflow-wrap:anywhere;word-break:break-word;unicode-bidi:isolate}
td,dd,dt,th,li,p,text{unicode-bidi:isolate}
td.num{white-space:nowrap}
td.time{font-family:ui-monospace,"DejaVu Sans Mono",monospace;font-size:12px}
tr.weak td{color:var(--muted);font-style:italic}
.step-title{font-weight:600}
.fid{color:var(--muted);font-size:11px;font-family:ui-monospace,"DejaVu Sans Mono",monospace}
.note{color:var(--muted);font-style:italic}
pre{background:#1c2833;color:#f4f6f6;padding:8px 10px;border-radius:4px;white-space:pre-wrap;font-size:12px}
ol.remediation li{margin-bottom:8px}
ol.remediation p{margin:2px 0}
.figure{overflow:hidden}
svg{display:block;width:100%;height:auto;max-width:100%}
svg text{font:12px system-ui,"DejaVu Sans",sans-serif;fill:var(--ink)}
svg .lane{stroke:var(--line);stroke-dasharray:3 3}
svg .axis{stroke:var(--muted)}
svg .tick,svg .lane-label{fill:var(--muted);font-size:11px}
svg .dot{stroke:#fff;stroke-width:1.5}
svg .dot.sev-critical{fill:var(--crit)}svg .dot.sev-high{fill:var(--high)}svg .dot.sev-medium{fill:var(--med)}
svg .dot.sev-low{fill:var(--low)}svg .dot.sev-info{fill:var(--info)}
svg .node rect{fill:#f8f9f9;stroke:var(--muted);stroke-width:1.2}
svg .node.sev-critical rect{stroke:var(--crit);stroke-width:2}svg .node.sev-high rect{stroke:var(--high);stroke-width:2}
svg .node-label{font-weight:700;font-size:13px}
svg .node-detail{fill:var(--muted);font-size:11px}
svg .edge{stroke:var(--ink);stroke-width:1.6}
svg .edge.weak{stroke-dasharray:5 4;stroke:var(--muted)}
svg .arrowhead{fill:var(--ink)}
svg .edge-label{font-size:11px;fill:var(--muted);paint-order:stroke;stroke:#fff;stroke-width:3px}
footer{color:var(--muted);font-size:12px}
@media screen and (max-width:760px){
header,main,footer{padding:8px 10px}
.incident{padding:4px 10px 10px}
table,tbody,tr,td{display:block;width:auto}
thead{display:none}
tr{border-bottom:1px solid var(--line);padding:4px 0}
td{border:none;padding:2px 4px}
dl.meta,dl.facts{grid-template-columns:minmax(0,1fr)}
dl.meta dt,dl.facts dt{font-weight:600}
}
@media print{
body{background:#fff;font-size:10pt}
header,main,footer{max-width:none;padding:0 4mm}
nav{break-after:page}
.incident{break-before:page;border:none;border-left:4px solid var(--info);padding:0 0 0 8px}
.incident:first-of-type{break-before:auto}
tr,.figure,ol.remediation li{break-inside:avoid}
h2,h3{break-after:avoid}
table{font-size:8pt}
td.time,.fid{font-size:7pt;overflow-wrap:anywhere}
table.steps th:nth-child(1){width:5mm}table.steps th:nth-child(2){width:22mm}table.steps th:nth-child(3){width:20mm}
table.steps th:nth-child(4){width:17mm}table.steps th:nth-child(6){width:40mm}
table.findings-list th:nth-child(1){width:17mm}table.findings-list th:nth-child(2){width:22mm}
table.findings-list th:nth-child(3){width:28mm}table.findings-list th:nth-child(5){width:40mm}
table.links th:nth-child(1){width:15mm}table.links th:nth-child(2){width:28mm}table.links th:nth-child(3){width:16mm}
thead{display:table-header-group}
.badge,svg,.incident,pre{-webkit-print-color-adjust:exact;print-color-adjust:exact}
pre{background:#fff;color:#000;border:1px solid var(--line)}
nav a{color:#000}
}
`;
