// exportdsl studio: the page's behaviour. Everything from the server (policy text, messages,
// explanations, witnesses) is shown with textContent or form values, never as HTML.
"use strict";

(function () {
  const $ = (id) => document.getElementById(id);
  const state = {path: null, editor: null, schema: null, schemaKey: null, evalTimer: null, schemaTimer: null,
                 evalSeq: 0, checkSeq: 0};

  function el(tag, props, ...children) {
    const node = document.createElement(tag);
    Object.assign(node, props || {});
    for (const child of children) node.append(child);  // strings become text nodes
    return node;
  }

  async function api(method, url, body) {
    const options = {method, headers: {"X-Studio": "1"}, credentials: "same-origin"};
    if (body !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.body = typeof body === "string" ? body : JSON.stringify(body);
    }
    let response;
    try {
      response = await fetch(url, options);
    } catch (error) {  // the studio stopped, or the connection dropped
      return {status: 0, data: {error: `no answer from the studio (${error.message})`}};
    }
    let data = {};
    try { data = await response.json(); } catch (e) { data = {error: "unreadable response"}; }
    return {status: response.status, data};
  }

  function status(text) { $("status").textContent = text; }

  function diagnosticText(d) {
    const where = d.from ? `${d.from[0] + 1}:${d.from[1] + 1}: ` : "";
    return `${where}${d.severity}[${d.code}]: ${d.message}` + (d.help ? `\n  help: ${d.help}` : "");
  }

  // ---- Edit --------------------------------------------------------------------------------
  function showDiagnostics(list, diagnostics) {
    list.replaceChildren();
    if (!diagnostics.length) {
      list.append(el("li", {className: "ok", textContent: "no problems"}));
      return;
    }
    for (const d of diagnostics) {
      const item = el("li", {className: d.severity, textContent: diagnosticText(d)});
      if (d.from && list === $("diagnostics")) {
        item.addEventListener("click", () => {
          state.editor.focus();
          state.editor.setCursor({line: d.from[0], ch: d.from[1]});
        });
      }
      list.append(item);
    }
  }

  async function checkText(text, update, options, cm) {
    const seq = ++state.checkSeq;
    const path = state.path;
    if (!path) return update(cm, []);
    const {status: code, data} = await api("POST", "api/check", {path, text});
    if (seq !== state.checkSeq) return;  // a newer check is on its way
    const diagnostics = data.diagnostics || [{code: "E422", severity: "error", message: data.error || `HTTP ${code}`}];
    showDiagnostics($("diagnostics"), diagnostics);
    const severity = {error: "error", warning: "warning", note: "info"};
    update(cm, diagnostics.filter((d) => d.from).map((d) => ({
      from: CodeMirror.Pos(d.from[0], d.from[1]),
      to: CodeMirror.Pos(d.to[0], Math.max(d.to[1], d.from[0] === d.to[0] ? d.from[1] + 1 : d.to[1])),
      message: `${d.code}: ${d.message}` + (d.help ? ` (${d.help})` : ""),
      severity: severity[d.severity] || "error",
    })));
    if (!diagnostics.some((d) => d.severity === "error")) scheduleSchema();
  }

  async function openFile(path) {
    const {status: code, data} = await api("GET", `api/file?path=${encodeURIComponent(path)}`);
    if (code !== 200) { status(data.error || `cannot open (${code})`); return; }
    state.path = path;
    $("file").value = path;
    state.schemaKey = null;
    state.schemaText = null;
    state.editor.setValue(data.text);
    state.editor.clearHistory();
    status(`opened ${path}`);
    await refreshSchema();
  }

  async function save() {
    if (!state.path) return;
    const {status: code, data} = await api("PUT", "api/file", {path: state.path, text: state.editor.getValue()});
    status(code === 200 ? `saved ${data.saved}` : (data.error || `not saved (${code})`));
  }

  // ---- Try ---------------------------------------------------------------------------------
  function scheduleSchema() {
    clearTimeout(state.schemaTimer);
    state.schemaTimer = setTimeout(refreshSchema, 200);
  }

  async function refreshSchema() {
    if (!state.path) return;
    const text = state.editor.getValue();
    if (state.schemaText === text && state.schemaPath === state.path) return;  // nothing changed
    state.schemaText = text;
    state.schemaPath = state.path;
    const {status: code, data} = await api("POST", "api/schema", {path: state.path, text});
    if (code !== 200) { state.schemaText = null; return; }  // the Edit pane shows why
    const key = JSON.stringify(data.schema.properties) + JSON.stringify(data.schema.required);
    if (key !== state.schemaKey) {
      const values = formValues();
      state.schema = data.schema;
      state.schemaKey = key;
      buildForm(data.schema, data.facts, values);
    }
    scheduleEvaluate();
  }

  function kindOf(prop) {
    if (prop.anyOf) return "percent";
    if (prop.type === "array") return prop.items && prop.items.enum ? "multi" : "list";
    if (prop.type === "boolean") return "bool";
    if (prop.enum) return "enum";
    if (prop.format === "date") return "date";
    if (prop.type === "integer" || prop.type === "number") return "number";
    return "string";
  }

  function buildForm(schema, types, values) {
    const form = $("try-form");
    form.replaceChildren();
    const required = new Set(schema.required || []);
    for (const [name, prop] of Object.entries(schema.properties)) {
      const kind = kindOf(prop);
      const id = `fact-${name}`;
      let control;
      if (kind === "enum" || kind === "bool") {
        control = el("select", {id, name});
        control.append(el("option", {value: "", textContent: "—"}));
        for (const v of kind === "bool" ? ["true", "false"] : prop.enum) control.append(el("option", {value: v, textContent: v}));
      } else if (kind === "multi") {
        control = el("select", {id, name, multiple: true, size: Math.min(6, prop.items.enum.length)});
        for (const v of prop.items.enum) control.append(el("option", {value: v, textContent: v}));
      } else {
        control = el("input", {id, name, type: kind === "date" ? "date" : "text"});
        if (kind === "percent") control.placeholder = "e.g. 0.1 (percent)";
        if (kind === "list") control.placeholder = "values, comma-separated";
      }
      control.dataset.kind = kind;
      if ("default" in prop) control.title = `default: ${JSON.stringify(prop.default)}`;
      control.addEventListener("input", scheduleEvaluate);
      control.addEventListener("change", scheduleEvaluate);
      form.append(el("label", {htmlFor: id, textContent: name + (required.has(name) ? " *" : "")}), control);
      form.append(el("span", {className: "type", textContent: (types && types[name]) || kind}));
      if (values && name in values) setField(control, values[name]);
    }
  }

  function formValues() {
    const values = {};
    for (const control of $("try-form").querySelectorAll("[data-kind]")) {
      const value = fieldValue(control);
      if (value !== undefined) values[control.name] = value;
    }
    return values;
  }

  function fieldValue(control) {
    if (control.dataset.kind === "multi") return Array.from(control.selectedOptions, (o) => o.value);
    return control.value === "" ? undefined : control.value;
  }

  function setField(control, value) {
    if (control.dataset.kind === "multi") {
      const chosen = new Set(Array.isArray(value) ? value.map(String) : []);
      for (const option of control.options) option.selected = chosen.has(option.value);
    } else if (control.dataset.kind === "list") {
      control.value = Array.isArray(value) ? value.join(", ") : String(value);
    } else {
      control.value = value === null || value === undefined ? "" : String(value);
    }
  }

  // The facts as JSON text: numbers go in verbatim (exact decimals), everything else through JSON.
  const NUMBER = /^-?\d+(\.\d+)?$/;
  function factsJson() {
    const parts = [];
    for (const control of $("try-form").querySelectorAll("[data-kind]")) {
      const kind = control.dataset.kind;
      let value = fieldValue(control);
      if (value === undefined) continue;  // left out: its default applies, or it is reported missing
      let text;
      if (kind === "number" || kind === "percent") {
        value = value.trim();
        text = NUMBER.test(value) ? value : JSON.stringify(value);
      } else if (kind === "bool") {
        text = value === "true" ? "true" : "false";
      } else if (kind === "list") {
        text = JSON.stringify(value.split(",").map((s) => s.trim()).filter((s) => s));
      } else {
        text = JSON.stringify(value);
      }
      parts.push(`${JSON.stringify(control.name)}: ${text}`);
    }
    return `{${parts.join(", ")}}`;
  }

  function scheduleEvaluate() {
    clearTimeout(state.evalTimer);
    state.evalTimer = setTimeout(evaluate, 120);
  }

  async function evaluate() {
    if (!state.path || !state.schema) return;
    if (!Object.values(formValues()).some((v) => !Array.isArray(v) || v.length)) {  // an empty form: nothing to decide yet
      $("decision").textContent = "";
      $("explanation").textContent = "";
      $("try-errors").replaceChildren();
      return;
    }
    const seq = ++state.evalSeq;
    const body = `{"path": ${JSON.stringify(state.path)}, "text": ${JSON.stringify(state.editor.getValue())}, "facts": ${factsJson()}}`;
    const {status: code, data} = await api("POST", "api/evaluate", body);
    if (seq !== state.evalSeq) return;
    const decision = $("decision");
    if (code === 200) {
      decision.textContent = data.rules.length ? `${data.decision} (${data.rules.join(", ")})` : data.decision;
      decision.className = data.decision;
      $("try-errors").replaceChildren();
      $("explanation").textContent = data.explanation;
    } else {
      decision.textContent = "no decision";
      decision.className = "error";
      showDiagnostics($("try-errors"), data.diagnostics || [{code: "", severity: "error", message: data.error || `HTTP ${code}`}]);
      $("explanation").textContent = "";
    }
  }

  // ---- Compare -----------------------------------------------------------------------------
  async function compare() {
    const days = [$("day1").value, $("day2").value];
    const body = days[0] && days[1] ? {old: $("old").value, between: days}
      : {old: $("old").value, new: $("new").value, as_of: $("as-of").value || null};
    $("diff-summary").textContent = "comparing…";
    $("regions").replaceChildren();
    $("structural").replaceChildren();
    const {status: code, data} = await api("POST", "api/diff", body);
    if (code !== 200) {
      $("diff-summary").textContent = data.error || (data.diagnostics || []).map(diagnosticText).join("\n") || `HTTP ${code}`;
      return;
    }
    const label = (side) => [side.name, side.version].filter((x) => x).join(" ");
    const changes = Object.entries(data.summary.transitions).map(([t, n]) => `${t}: ${n}`).join("; ");
    $("diff-summary").textContent = `${label(data.old)} → ${label(data.new)}: ${data.regions.length} region(s)` +
      (data.complete ? "" : " (INCOMPLETE: the diff ran out of time)") + (changes ? ` — ${changes}` : "");
    for (const change of data.structural) {
      $("structural").append(el("li", {textContent: `${change.kind}: ${change.subject}`}));
    }
    data.regions.forEach((region, number) => {
      const rules = (r) => (r.length ? r.join(", ") : "no rule");
      const button = el("button", {type: "button", className: "witness", textContent: "Open witness in Try"});
      const witness = data.dated_by ? {...region.witness, [data.dated_by]: data.day} : region.witness;
      button.addEventListener("click", () => openWitness(witness, body.between ? body.old : body.new));
      $("regions").append(el("li", {},
        el("div", {className: "transition", textContent: `${region.old} → ${region.new}`}),
        el("div", {textContent: `old: ${rules(region.old_rules)}; new: ${rules(region.new_rules)}`}),
        el("pre", {textContent: region.condition}),
        el("pre", {className: "witness-facts", textContent: JSON.stringify(region.witness)}),
        button));
    });
  }

  async function openWitness(witness, path) {
    if (state.path !== path) await openFile(path);
    else await refreshSchema();
    const form = $("try-form");
    for (const control of form.querySelectorAll("[data-kind]")) {
      setField(control, control.name in witness ? witness[control.name] : (control.dataset.kind === "multi" ? [] : ""));
    }
    $("try-pane").scrollIntoView();
    await evaluate();
  }

  // ---- start -------------------------------------------------------------------------------
  async function start() {
    state.editor = CodeMirror($("editor"), {
      mode: "xpol", lineNumbers: true, gutters: ["CodeMirror-lint-markers"],
      lint: {getAnnotations: checkText, async: true, delay: 150},
    });
    state.editor.on("change", scheduleSchema);
    $("save").addEventListener("click", save);
    $("file").addEventListener("change", () => openFile($("file").value));
    $("run-diff").addEventListener("click", compare);
    const {status: code, data} = await api("GET", "api/files");
    if (code !== 200) { status(data.error || `HTTP ${code}`); return; }
    for (const id of ["file", "old", "new"]) {
      $(id).replaceChildren(...data.files.map((f) => el("option", {value: f, textContent: f})));
    }
    if (data.files.length > 1) $("new").value = data.files[1];
    const wanted = new URLSearchParams(location.search).get("file");
    if (data.files.length) await openFile(data.files.includes(wanted) ? wanted : data.files[0]);
    else status("no .xpol files in this folder");
    document.body.dataset.ready = "true";
  }

  document.addEventListener("DOMContentLoaded", start);
})();
