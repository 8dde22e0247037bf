// The try-it page: reads /v1/info and builds an input fitted to the task's input_kind.
// Plain DOM, no build step, no CDN; every value from the server is set as text, never as HTML.
"use strict";

const IMAGE = [".png", ".jpg", ".jpeg", ".gif", ".bmp", ".webp"];
const AUDIO = [".wav", ".flac", ".ogg", ".mp3", ".m4a", ".webm"];
const $ = (id) => document.getElementById(id);
let info = null;
let collect = null; // () => {json: {...}} or {form: FormData}: what the Predict button sends
let recorded = []; // microphone recordings, as WAV files

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key === "class") node.className = value;
    else if (key in node) node[key] = value;
    else node.setAttribute(key, value);
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined) node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

function showError(message) {
  $("error").textContent = message;
  $("error").hidden = !message;
}

async function api(path, init) {
  const response = await fetch(path, init);
  let body = null;
  try { body = await response.json(); } catch (_) { body = null; }
  if (!response.ok) throw new Error((body && body.error) || `HTTP ${response.status}`);
  return body;
}

function fmt(value) {
  if (typeof value === "number") return Number.isInteger(value) ? String(value) : value.toPrecision(4);
  if (value === null || value === undefined) return "–";
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

function table(rows, head) {
  return el("table", {}, head ? el("thead", {}, el("tr", {}, head.map((h) => el("th", {}, h)))) : null,
    el("tbody", {}, rows.map((row) => el("tr", {}, row.map((cell) => el("td", {}, cell))))));
}

// --- the run ---------------------------------------------------------------------------------

function renderAbout() {
  document.title = `mltasks serve: ${info.task}`;
  $("title").textContent = `${info.task} · ${info.run}`;
  const data = info.data || {};
  const facts = [
    ["task", info.task],
    ["plugin", `${info.plugin.distribution} ${info.plugin.version}`.trim() || "–"],
    ["data", data.source || "default"],
    ["sizes", data.sizes ? Object.entries(data.sizes).map(([k, v]) => `${k} ${v}`).join(", ") : "–"],
    ["input", info.input_kind + (info.input_suffixes.length ? ` (${info.input_suffixes.join(" ")})` : "")],
  ];
  const scores = (info.metrics && info.metrics.metrics) || {};
  const primary = info.primary_metric.name;
  const split = (info.metrics && info.metrics.split) || "";
  const metricRows = Object.entries(scores).map(([name, value]) =>
    [name === primary ? el("strong", {}, name) : name, fmt(value)]);
  $("about").replaceChildren(el("div", { class: "facts" },
    el("div", {}, el("h2", {}, "Run"), table(facts)),
    el("div", {}, el("h2", {}, `Metrics${split ? ` (${split})` : ""}`),
      metricRows.length ? table(metricRows) : el("p", { class: "muted" }, "no metrics.json"))));
}

// --- inputs, one builder per input kind -------------------------------------------------------

function textInput() {
  const area = el("textarea", { id: "text-input", placeholder: "One input per line", "aria-label": "inputs" });
  $("inputs").append(el("label", { for: "text-input" }, "Inputs (one per line)"), area);
  collect = () => ({ json: { inputs: area.value.split("\n").map((s) => s.trim()).filter(Boolean) } });
}

function idInput() {
  const box = el("input", { type: "text", id: "id-input", placeholder: "user ids, separated by commas" });
  $("inputs").append(el("label", { for: "id-input" }, "User id(s)"), box);
  collect = () => ({ json: { inputs: box.value.split(",").map((s) => s.trim()).filter(Boolean) } });
}

function fileInput() {
  const suffixes = info.input_suffixes;
  const images = suffixes.length === 0 || suffixes.some((s) => IMAGE.includes(s));
  const audio = suffixes.some((s) => AUDIO.includes(s));
  const picker = el("input", { type: "file", id: "file-input", multiple: true, accept: suffixes.join(",") });
  const previews = el("div", { class: "previews", id: "previews" });
  const show = () => {
    previews.replaceChildren();
    for (const file of [...picker.files, ...recorded]) {
      const url = URL.createObjectURL(file);
      const media = file.type.startsWith("audio/") || audio
        ? el("audio", { controls: true, src: url })
        : (images ? el("img", { src: url, alt: file.name }) : null);
      previews.append(el("figure", {}, media, el("figcaption", {}, file.name)));
    }
  };
  picker.addEventListener("change", () => { recorded = []; show(); });
  $("inputs").append(el("label", { for: "file-input" }, `File(s) ${suffixes.join(" ")}`), el("br"), picker, previews);
  if (audio && navigator.mediaDevices && window.MediaRecorder) $("inputs").append(recorder(show));
  collect = () => {
    const form = new FormData();
    for (const file of [...picker.files, ...recorded]) form.append("files", file, file.name);
    return { form };
  };
}

function recorder(onDone) {
  const button = el("button", { type: "button", class: "secondary", id: "record" }, "● Record from microphone");
  let media = null;
  button.addEventListener("click", async () => {
    if (media) { media.stop(); return; }
    try {
      const stream = await navigator.mediaDevices.getUserMedia({ audio: true });
      const chunks = [];
      media = new MediaRecorder(stream);
      media.ondataavailable = (event) => chunks.push(event.data);
      media.onstop = async () => {
        stream.getTracks().forEach((track) => track.stop());
        media = null;
        button.textContent = "● Record from microphone";
        const wav = await toWav(new Blob(chunks, { type: chunks[0] ? chunks[0].type : "audio/webm" }));
        recorded = [new File([wav], `recording-${recorded.length + 1}.wav`, { type: "audio/wav" })];
        onDone();
      };
      media.start();
      button.textContent = "■ Stop recording";
    } catch (err) {
      showError(`microphone: ${err.message}`);
    }
  });
  return el("div", {}, button);
}

// The browser records WebM/Ogg; the task reads WAV, so decode and write 16-bit mono PCM.
async function toWav(blob) {
  const context = new AudioContext();
  const audio = await context.decodeAudioData(await blob.arrayBuffer());
  await context.close();
  const samples = new Float32Array(audio.length);
  for (let c = 0; c < audio.numberOfChannels; c++) {
    audio.getChannelData(c).forEach((v, i) => { samples[i] += v / audio.numberOfChannels; });
  }
  const buffer = new DataView(new ArrayBuffer(44 + samples.length * 2));
  const text = (offset, s) => [...s].forEach((ch, i) => buffer.setUint8(offset + i, ch.charCodeAt(0)));
  text(0, "RIFF"); buffer.setUint32(4, 36 + samples.length * 2, true); text(8, "WAVEfmt ");
  buffer.setUint32(16, 16, true); buffer.setUint16(20, 1, true); buffer.setUint16(22, 1, true);
  buffer.setUint32(24, audio.sampleRate, true); buffer.setUint32(28, audio.sampleRate * 2, true);
  buffer.setUint16(32, 2, true); buffer.setUint16(34, 16, true); text(36, "data");
  buffer.setUint32(40, samples.length * 2, true);
  samples.forEach((v, i) => buffer.setInt16(44 + i * 2, Math.max(-1, Math.min(1, v)) * 0x7fff, true));
  return buffer.buffer;
}

function rowInput() {
  const known = ((info.data || {}).info || {});
  const columns = known.features || known.columns || ["column"];
  const head = el("tr", {});
  const values = el("tr", {});
  const addColumn = (name) => {
    head.append(el("th", {}, el("input", { type: "text", value: name, "aria-label": "column name" })));
    values.append(el("td", {}, el("input", { type: "text", "aria-label": `value of ${name}` })));
  };
  columns.forEach(addColumn);
  const more = el("button", { type: "button", class: "secondary" }, "+ column");
  more.addEventListener("click", () => addColumn(""));
  const picker = el("input", { type: "file", id: "csv-input", accept: ".csv" });
  $("inputs").append(el("p", {}, "One row (empty values are missing):"),
    el("div", { class: "rowed" }, el("table", { id: "row-editor" }, el("thead", {}, head), el("tbody", {}, values))),
    more, el("p", {}, el("label", { for: "csv-input" }, "…or upload a CSV file of rows: "), picker));
  collect = () => {
    if (picker.files.length) {
      const form = new FormData();
      form.append("files", picker.files[0], picker.files[0].name);
      return { form };
    }
    const row = {};
    [...head.querySelectorAll("input")].forEach((input, i) => {
      const value = values.querySelectorAll("input")[i].value.trim();
      if (input.value.trim() && value !== "") row[input.value.trim()] = isNaN(Number(value)) ? value : Number(value);
    });
    return { json: { inputs: [row] } };
  };
}

function noneInput() {
  $("predict").textContent = "▶ Play an episode";
  $("inputs").append(el("p", { class: "muted" }, "The agent plays one episode in its environment."));
  collect = () => {
    const options = {};
    if ("episodes" in info.predict_options) options.episodes = 1;
    if ("record" in info.predict_options) options.record = "gif";
    return { json: { inputs: [], options } };
  };
}

function renderOptions() {
  const box = $("options");
  const defaults = info.option_defaults || {};
  for (const [name, help] of Object.entries(info.predict_options)) {
    if (info.input_kind === "none" && (name === "record" || name === "episodes")) continue;
    const hint = name in defaults ? `${help} (server default: ${JSON.stringify(defaults[name])})` : help;
    box.append(el("label", {}, el("span", {}, name),
      el("input", { type: "text", name, placeholder: hint, title: hint, "data-option": name })));
  }
  box.hidden = box.querySelectorAll("input").length === 0;
}

function optionValues() {
  const out = {};
  for (const input of $("options").querySelectorAll("input[data-option]")) {
    const raw = input.value.trim();
    if (raw === "") continue;
    out[input.dataset.option] = raw === "true" ? true : raw === "false" ? false : (isNaN(Number(raw)) ? raw : Number(raw));
  }
  return out;
}

// --- results ----------------------------------------------------------------------------------

function bar(label, probability) {
  const pct = Math.max(0, Math.min(1, Number(probability) || 0)) * 100;
  return el("div", { class: "bar" }, label === null ? null : el("span", { class: "name" }, label),
    el("span", { class: "track" }, el("span", { class: "fill", style: `width:${pct.toFixed(1)}%` })),
    el("span", { class: "num" }, fmt(probability)));
}

function cell(key, value) {
  if (typeof value === "string" && value.startsWith("data:image/")) return el("img", { src: value, class: "episode", alt: key });
  if (typeof value === "number" && /prob|score/i.test(key) && value >= 0 && value <= 1) return bar(null, value);
  if (Array.isArray(value) && value.length && value.every((v) => v && typeof v === "object" && "label" in v)) {
    return el("div", {}, value.map((v) => bar(String(v.label), v.probability ?? v.score ?? 0)));
  }
  if (value !== null && typeof value === "object") return el("pre", {}, JSON.stringify(value, null, 1).slice(0, 2000));
  return fmt(value);
}

function renderResults(records) {
  const keys = [];
  records.forEach((r) => Object.keys(r).forEach((k) => { if (!keys.includes(k)) keys.push(k); }));
  const output = records.length
    ? table(records.map((r) => keys.map((k) => cell(k, r[k]))), keys)
    : el("p", { class: "muted" }, "no predictions");
  $("output").replaceChildren(output);
  $("results").hidden = false;
}

async function submit(event) {
  event.preventDefault();
  showError("");
  const request = collect();
  const options = optionValues();
  let init;
  if (request.form) {
    if (![...request.form.keys()].length) { showError("choose a file first"); return; }
    if (Object.keys(options).length) request.form.append("options", JSON.stringify(options));
    init = { method: "POST", body: request.form };
  } else {
    request.json.options = { ...(request.json.options || {}), ...options };
    init = { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(request.json) };
  }
  $("predict").disabled = true;
  $("busy").hidden = false;
  try {
    const body = await api("v1/predict", init);
    renderResults(body.predictions);
  } catch (err) {
    showError(err.message);
  } finally {
    $("predict").disabled = false;
    $("busy").hidden = true;
  }
}

async function main() {
  try {
    info = await api("v1/info");
  } catch (err) {
    showError(`cannot read /v1/info: ${err.message}`);
    return;
  }
  renderAbout();
  const builders = { text: textInput, file: fileInput, row: rowInput, id: idInput, none: noneInput };
  (builders[info.input_kind] || textInput)();
  renderOptions();
  $("form").addEventListener("submit", submit);
  document.body.dataset.ready = "true"; // tests wait for this
}

main();
