// The Speech Copilot page: pick or record a clip, download its transcript through /v1/audio/transcriptions, ask
// through /v1/chat/completions, and draw the answer's program, the tools' outputs on a timeline, each tool's findings
// and the timings. Plain DOM, no build step.
"use strict";

const $ = (id) => document.getElementById(id);
const SVG = "http://www.w3.org/2000/svg";
const COLOURS = ["#2f5bea", "#e07b24", "#1f9d62", "#9b51e0", "#d64545", "#0e9aa7", "#b8860b", "#6b7280"];
const clips = { audio1: null, audio2: null }; // {blob, name, sendAsIs}
let recorder = null;

// ---- small DOM helpers ------------------------------------------------------------------------

/** An HTML element with attributes and children (strings become text, never markup). */
function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "onclick") node.addEventListener("click", v);
    else node.setAttribute(k, v);
  }
  node.append(...children.filter((c) => c !== null && c !== undefined));
  return node;
}

/** An SVG element with attributes and optional text. */
function svg(tag, attrs = {}, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}

/** Seconds as m:ss.s */
function clock(seconds) {
  const m = Math.floor(seconds / 60);
  return `${m}:${(seconds - m * 60).toFixed(1).padStart(4, "0")}`;
}

function seek(seconds) {
  const player = $("player");
  if (player.hidden) return;
  player.currentTime = seconds;
  player.play().catch(() => {});
}

// ---- the clip ---------------------------------------------------------------------------------

function setClip(name, blob, label, sendAsIs) {
  clips[name] = { blob, name: label, sendAsIs };
  if (name !== "audio1") return;
  const player = $("player");
  if (player.src) URL.revokeObjectURL(player.src);
  player.src = URL.createObjectURL(blob);
  player.hidden = false;
  $("clip-info").textContent = `${label} (${(blob.size / 1e6).toFixed(2)} MB)`;
  player.onloadedmetadata = () => {
    if (isFinite(player.duration)) $("clip-info").textContent = `${label}: ${clock(player.duration)} (${(blob.size / 1e6).toFixed(2)} MB)`;
  };
}

/** wav and mp3 go to the server as they are; anything else is decoded here and sent as 16 kHz mono wav. */
function pickFile(name, input) {
  const file = input.files[0];
  if (!file) {
    clips[name] = null;
    return;
  }
  const ext = file.name.split(".").pop().toLowerCase();
  setClip(name, file, file.name, ext === "wav" || ext === "mp3" ? ext : null);
}

async function toggleRecording() {
  const button = $("record");
  if (recorder) {
    recorder.stop();
    return;
  }
  let stream;
  try {
    stream = await navigator.mediaDevices.getUserMedia({ audio: true });
  } catch (err) {
    showStatus(`cannot record: ${err.message}`, true);
    return;
  }
  const chunks = [];
  recorder = new MediaRecorder(stream);
  recorder.ondataavailable = (e) => chunks.push(e.data);
  recorder.onstop = () => {
    stream.getTracks().forEach((t) => t.stop());
    setClip("audio1", new Blob(chunks, { type: recorder.mimeType }), "recording", null);
    recorder = null;
    button.textContent = "\u25CF Record";
    button.classList.remove("recording");
  };
  recorder.start();
  button.textContent = "\u25A0 Stop";
  button.classList.add("recording");
}

function base64Of(blob) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(reader.result.slice(reader.result.indexOf(",") + 1));
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(blob);
  });
}

/** Any format the browser can decode, as a 16 kHz mono 16-bit wav. */
async function toWav(blob) {
  const context = new AudioContext();
  let decoded;
  try {
    decoded = await context.decodeAudioData(await blob.arrayBuffer());
  } catch {
    throw new Error("this browser cannot decode the file: try a wav or mp3");
  } finally {
    context.close();
  }
  const rate = 16000;
  const offline = new OfflineAudioContext(1, Math.max(1, Math.ceil(decoded.duration * rate)), rate);
  const source = offline.createBufferSource();
  source.buffer = decoded;
  source.connect(offline.destination);
  source.start();
  const samples = (await offline.startRendering()).getChannelData(0);
  const view = new DataView(new ArrayBuffer(44 + samples.length * 2));
  const text = (offset, s) => [...s].forEach((c, i) => view.setUint8(offset + i, c.charCodeAt(0)));
  text(0, "RIFF"); view.setUint32(4, 36 + samples.length * 2, true); text(8, "WAVEfmt ");
  view.setUint32(16, 16, true); view.setUint16(20, 1, true); view.setUint16(22, 1, true);
  view.setUint32(24, rate, true); view.setUint32(28, rate * 2, true); view.setUint16(32, 2, true);
  view.setUint16(34, 16, true); text(36, "data"); view.setUint32(40, samples.length * 2, true);
  samples.forEach((x, i) => view.setInt16(44 + i * 2, Math.max(-1, Math.min(1, x)) * 0x7fff, true));
  return new Blob([view], { type: "audio/wav" });
}

async function audioPart(clip) {
  const blob = clip.sendAsIs ? clip.blob : await toWav(clip.blob);
  return { type: "input_audio", input_audio: { data: await base64Of(blob), format: clip.sendAsIs || "wav" } };
}

// ---- asking -----------------------------------------------------------------------------------

function headers() {
  const key = $("api-key").value.trim();
  return key ? { Authorization: `Bearer ${key}` } : {};
}

/** Show ``text`` in a status line: the question's, or ``where`` (the transcript's). */
function showStatus(text, isError = false, where = "status") {
  $(where).textContent = text;
  $(where).classList.toggle("error", isError);
}

/** POST ``body`` as JSON to the API; a refusal is thrown as an Error with the server's message (a 401 shows the key field). */
async function post(path, body) {
  const response = await fetch(path, {
    method: "POST",
    headers: { "Content-Type": "application/json", ...headers() },
    body: JSON.stringify(body),
  });
  if (!response.ok) {
    const refusal = await response.json().catch(() => ({}));
    if (response.status === 401) $("key-row").hidden = false;
    throw new Error(refusal.error ? refusal.error.message : `HTTP ${response.status}`);
  }
  return response;
}

/**
 * The copilot's answer from a streamed chat reply; ``show`` is given the running step's progress from the server's
 * comments (": working: asr: 40% (1440/3600 s)"), or "" between steps. An error event is thrown with its message.
 */
async function streamedAnswer(response, show) {
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  let answer = null;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    const events = (buffer + value).split("\n\n");
    buffer = events.pop();
    for (const event of events) {
      if (event.startsWith(": working")) show(event.replace(/^: working:? ?/, ""));
      if (!event.startsWith("data: ") || event === "data: [DONE]") continue;
      const chunk = JSON.parse(event.slice(6));
      if (chunk.error) throw new Error(chunk.error.message);
      if (chunk.copilot) answer = chunk.copilot;
    }
  }
  if (!answer) throw new Error("the reply ended before its answer");
  return answer;
}

async function ask(event) {
  event.preventDefault();
  const question = $("question").value.trim();
  if (!clips.audio1) return showStatus("Choose or record a clip first.", true);
  if (!question) return showStatus("Write a question first.", true);
  $("ask").disabled = true;
  const started = performance.now();
  let step = "";
  const tick = () =>
    showStatus(`Working\u2026 ${Math.round((performance.now() - started) / 1000)} s${step ? ` \u00b7 ${step}` : ""}`);
  tick();
  const timer = setInterval(tick, 1000);
  try {
    const content = [{ type: "text", text: question }, await audioPart(clips.audio1)];
    if (clips.audio2) content.push(await audioPart(clips.audio2));
    const body = { model: "speech-copilot", messages: [{ role: "user", content }], stream: true };
    const response = await post("/v1/chat/completions", body);
    render(
      await streamedAnswer(response, (line) => {
        step = line;
        tick();
      }),
    );
    showStatus(`Answered in ${((performance.now() - started) / 1000).toFixed(1)} s.`);
  } catch (err) {
    showStatus(err.message, true);
  } finally {
    clearInterval(timer);
    $("ask").disabled = false;
  }
}

// ---- the transcript --------------------------------------------------------------------------

/** Download the first clip's transcript with speakers, in the chosen format, from /v1/audio/transcriptions. */
async function downloadTranscript() {
  const say = (text, isError = false) => showStatus(text, isError, "transcript-status");
  if (!clips.audio1) return say("Choose or record a clip first.", true);
  const format = $("transcript-format").value;
  $("transcript").disabled = true;
  say("Transcribing\u2026");
  try {
    const file = (await audioPart(clips.audio1)).input_audio;
    const response = await post("/v1/audio/transcriptions", { model: "speech-copilot", file, response_format: format });
    const link = $("transcript-link");
    if (link.getAttribute("href")) URL.revokeObjectURL(link.href);
    link.href = URL.createObjectURL(await response.blob());
    link.download = `${clips.audio1.name.replace(/\.[^.]*$/, "")}.${format}`;
    link.textContent = link.download;
    link.hidden = false;
    link.click();
    say("");
  } catch (err) {
    say(err.message, true);
  } finally {
    $("transcript").disabled = false;
  }
}

// ---- the answer -------------------------------------------------------------------------------

function render(answer) {
  $("result").hidden = false;
  $("answer").textContent = answer.text;
  $("choice").textContent = answer.choice ? `Choice: ${answer.choice}` : "";
  $("problems").replaceChildren(...answer.trace.problems.map((p) => el("li", {}, p)));
  $("notes").replaceChildren(...answer.trace.notes.map((n) => el("li", {}, n)));
  const rounds = answer.trace.rounds.length;
  $("trace").textContent = `Planner ${answer.trace.planner}, ${rounds} round${rounds === 1 ? "" : "s"}, answered by ${answer.trace.answered_by || "the LLM"}.`;
  drawProgram(answer.program, answer.evidence);
  drawTimeline(answer.evidence);
  $("evidence").replaceChildren(...answer.evidence.map(toolPanel));
  drawTimings(answer.trace.timings);
}

/** Step ids a value of a step's arguments refers to ("$d.turns.0.start" -> "d"). */
function references(value) {
  if (typeof value === "string") {
    const m = value.match(/^\$([A-Za-z][A-Za-z0-9_]*)/);
    return m ? [m[1]] : [];
  }
  if (value && typeof value === "object") return Object.values(value).flatMap(references);
  return [];
}

/** The program as a left-to-right graph: question -> steps (columns by dependency depth) -> answer. */
function drawProgram(program, evidence) {
  const box = $("graph");
  const steps = program ? program.steps : [];
  if (!steps.length) {
    box.replaceChildren(el("p", { class: "muted" }, "The planner wrote no program that could run."));
    return;
  }
  const byStep = Object.fromEntries(evidence.map((e) => [e.step, e]));
  const deps = Object.fromEntries(steps.map((s) => [s.id, [...new Set([...s.after, ...references(s.args)])]]));
  const depth = {};
  const depthOf = (id, seen = new Set()) => {
    if (depth[id] !== undefined) return depth[id];
    if (seen.has(id)) return 0;
    seen.add(id);
    depth[id] = 1 + Math.max(0, ...deps[id].filter((d) => d in deps).map((d) => depthOf(d, seen)));
    return depth[id];
  };
  steps.forEach((s) => depthOf(s.id));
  const columns = [];
  steps.forEach((s) => (columns[depth[s.id]] ||= []).push(s));
  const W = 150, H = 48, GX = 56, GY = 14, END = 90;
  const rows = Math.max(...columns.filter(Boolean).map((c) => c.length));
  const height = rows * (H + GY) + GY;
  const last = columns.length;
  const width = END + GX + (last - 1) * (W + GX) + END;
  const at = {};
  columns.forEach((column, d) => {
    if (!column) return;
    const top = (height - column.length * (H + GY) + GY) / 2;
    column.forEach((s, i) => (at[s.id] = { x: END + GX + (d - 1) * (W + GX), y: top + i * (H + GY) }));
  });
  const image = svg("svg", { width, height, role: "img", "aria-label": "the program" });
  image.append(svg("defs", {}));
  image.firstChild.innerHTML = '<marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#9aa3b2"/></marker>';
  const edge = (x1, y1, x2, y2) => {
    const mid = (x1 + x2) / 2;
    image.append(svg("path", { d: `M${x1},${y1} C${mid},${y1} ${mid},${y2} ${x2},${y2}`, fill: "none", stroke: "#9aa3b2", "marker-end": "url(#arrow)" }));
  };
  const ends = { question: { x: 4, y: height / 2 - 16 }, answer: { x: width - END + 4, y: height / 2 - 16 } };
  const dependents = new Set(Object.values(deps).flat());
  for (const s of steps) {
    const p = at[s.id];
    const inner = deps[s.id].filter((d) => d in at);
    if (!inner.length) edge(ends.question.x + 78, height / 2, p.x, p.y + H / 2);
    inner.forEach((d) => edge(at[d].x + W, at[d].y + H / 2, p.x, p.y + H / 2));
    if (!dependents.has(s.id)) edge(p.x + W, p.y + H / 2, ends.answer.x, height / 2);
  }
  for (const [label, p] of Object.entries(ends)) {
    image.append(svg("rect", { x: p.x, y: p.y, width: 78, height: 32, rx: 16, fill: "#eef2ff", stroke: "#c7d2fe" }));
    image.append(svg("text", { x: p.x + 39, y: p.y + 20, "text-anchor": "middle", "font-size": 12 }, label));
  }
  for (const s of steps) {
    const p = at[s.id];
    const e = byStep[s.id];
    const status = !e ? "not run" : e.error ? "failed" : e.cached ? "cached" : "ok";
    const colour = { ok: "#1f9d62", cached: "#3b82c4", failed: "#d64545", "not run": "#9aa3b2" }[status];
    const group = svg("g", { class: "node" });
    group.append(svg("title", {}, `${s.id}: ${s.tool}(${JSON.stringify(s.args)})\n${status}${e && e.error ? ": " + e.error : ""}`));
    group.append(svg("rect", { x: p.x, y: p.y, width: W, height: H, rx: 8, fill: "white", stroke: colour, "stroke-width": 2 }));
    group.append(svg("text", { x: p.x + 10, y: p.y + 20, "font-size": 13, "font-weight": 600 }, s.tool));
    const detail = `${s.id} \u00b7 ${e ? e.seconds.toFixed(2) + " s" : ""} ${status === "ok" ? "" : status}`;
    group.append(svg("text", { x: p.x + 10, y: p.y + 37, "font-size": 11, fill: "#667085" }, detail));
    image.append(group);
  }
  box.replaceChildren(image);
}

/** Rows of timed items from the tools' outputs: transcript, speech, one row per speaker and per sound. */
function timelineRows(evidence) {
  const rows = new Map();
  const add = (name, item, title) => {
    if (!rows.has(name)) rows.set(name, []);
    rows.get(name).push({ start: item.start, end: item.end, title });
  };
  for (const e of evidence) {
    if (!e.output) continue;
    for (const [field, value] of Object.entries(e.output)) {
      if (!Array.isArray(value)) continue;
      for (const item of value) {
        if (!item || typeof item.start !== "number" || typeof item.end !== "number" || item.end <= item.start) continue;
        if (item.speaker !== undefined) add(`speaker ${item.speaker}`, item, `speaker ${item.speaker}`);
        else if (typeof item.text === "string") add(field === "words" ? "words" : "transcript", item, item.text);
        else if (typeof item.label === "string") add(item.label, item, `${item.label} (${item.score})`);
        else add(e.tool.replaceAll("_", " "), item, `${e.tool} ${field}`);
      }
    }
  }
  rows.delete("words"); // the transcript row shows the same span
  return rows;
}

function clipDuration(evidence, rows) {
  const measured = evidence.find((e) => e.output && typeof e.output.duration === "number");
  if (measured) return measured.output.duration;
  const player = $("player");
  if (isFinite(player.duration) && player.duration > 0) return player.duration;
  return Math.max(1, ...[...rows.values()].flat().map((i) => i.end));
}

function drawTimeline(evidence) {
  const rows = timelineRows(evidence);
  $("timeline-card").hidden = rows.size === 0;
  if (!rows.size) return;
  const duration = clipDuration(evidence, rows);
  const LABEL = 150, ROW = 24, width = Math.max(640, $("timeline").clientWidth || 900), plot = width - LABEL - 12;
  const height = rows.size * ROW + 28;
  const x = (t) => LABEL + (Math.min(t, duration) / duration) * plot;
  const image = svg("svg", { width, height, role: "img", "aria-label": "timeline" });
  const step = [0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600].find((s) => duration / s <= 12) || 1200;
  for (let t = 0; t <= duration + 1e-9; t += step) {
    image.append(svg("line", { x1: x(t), x2: x(t), y1: 0, y2: height - 18, stroke: "#eef0f4" }));
    const label = step < 1 ? clock(t) : clock(t).slice(0, -2);
    image.append(svg("text", { x: x(t), y: height - 4, "font-size": 10, fill: "#667085", "text-anchor": "middle" }, label));
  }
  [...rows.entries()].forEach(([name, items], r) => {
    const y = r * ROW + 4;
    const colour = COLOURS[r % COLOURS.length];
    image.append(svg("text", { x: LABEL - 8, y: y + 14, "font-size": 12, "text-anchor": "end" }, name.length > 22 ? name.slice(0, 21) + "\u2026" : name));
    for (const item of items) {
      const bar = svg("rect", { x: x(item.start), y, width: Math.max(2, x(item.end) - x(item.start)), height: ROW - 8, rx: 3, fill: colour, opacity: 0.8 });
      bar.append(svg("title", {}, `${clock(item.start)}\u2013${clock(item.end)} ${item.title}`));
      bar.style.cursor = "pointer";
      bar.addEventListener("click", () => seek(item.start));
      image.append(bar);
    }
  });
  const head = svg("line", { x1: LABEL, x2: LABEL, y1: 0, y2: height - 18, stroke: "#d64545", "stroke-width": 1.5, visibility: "hidden" });
  image.append(head);
  $("player").ontimeupdate = () => {
    head.setAttribute("x1", x($("player").currentTime));
    head.setAttribute("x2", x($("player").currentTime));
    head.setAttribute("visibility", "visible");
  };
  $("timeline").replaceChildren(image);
}

function chips(labels) {
  return el("div", { class: "chips" }, ...labels.map((l) =>
    el("span", { class: "chip", title: `score ${l.score}` },
      el("i", { class: "fill", style: `width:${Math.round(100 * Math.min(1, l.score))}%` }),
      el("span", {}, `${l.label} ${l.score.toFixed(2)}`))));
}

/** Whether an output's item is a time range: a number start and end (turns, segments, events; not per-speaker totals). */
function timed(item) {
  return !!item && Number.isFinite(item.start) && Number.isFinite(item.end);
}

function timedList(items, text) {
  return el("ul", { class: "transcript" }, ...items.filter(timed).map((s) =>
    el("li", { onclick: () => seek(s.start), title: "play from here" },
      el("span", { class: "time" }, `${clock(s.start)}\u2013${clock(s.end)}`), text(s))));
}

/** A number as the page shows it: at most two decimals; a missing value as a dash. */
function shown(value) {
  if (value === null || value === undefined) return "\u2013";
  if (typeof value === "number") return Number.isInteger(value) ? String(value) : String(+value.toFixed(2));
  return String(value);
}

/** Per-speaker values that are not time ranges: totals ({speaker, duration}) as one line, "S1 7.7 s · S2 7.5 s";
 * anything else (gender by speaker) as a table with a row per speaker. */
function perSpeaker(field, items) {
  const label = field.replaceAll("_", " ");
  if (items.every((i) => Object.keys(i).length === 2 && typeof i.duration === "number")) {
    const totals = items.map((i) => `${i.speaker} ${i.duration.toFixed(1)} s`).join(" \u00b7 ");
    return el("p", { class: "totals" }, el("span", { class: "muted" }, `${label}: `), totals);
  }
  const keys = [...new Set(["speaker", ...items.flatMap((i) => Object.keys(i))])];
  return el("table", { class: "kv per-speaker" },
    el("tr", {}, ...keys.map((k) => el("th", {}, k.replaceAll("_", " ")))),
    ...items.map((i) => el("tr", {}, ...keys.map((k) => el("td", {}, shown(i[k]))))));
}

/** What one step found: its summary, a view that suits its output, and the raw JSON. */
function toolPanel(e) {
  const badges = [el("span", { class: "badge" }, `${e.step} \u00b7 ${e.seconds.toFixed(2)} s`)];
  if (e.cached) badges.push(el("span", { class: "badge cached" }, "cached"));
  if (e.error) badges.push(el("span", { class: "badge failed" }, "failed"));
  const args = Object.keys(e.args).length ? el("span", { class: "badge" }, JSON.stringify(e.args)) : null;
  const panel = el("div", { class: "tool" }, el("h3", {}, e.tool, ...badges, args));
  if (e.error) {
    panel.append(el("p", { class: "error" }, e.error));
    return panel;
  }
  if (e.findings.facts) panel.append(el("p", { class: "facts" }, e.findings.facts));
  const out = e.output || {};
  const views = [];
  if (Array.isArray(out.segments) && out.segments.some((s) => typeof s.text === "string")) {
    views.push(timedList(out.segments, (s) => s.text));
  }
  const summaries = []; // per-speaker values that are not time ranges, shown first
  for (const [field, value] of Object.entries(out)) {
    if (!Array.isArray(value) || !value.length || !value.every((v) => v && typeof v === "object")) continue;
    if (value[0].speaker !== undefined) {
      if (value.some(timed)) views.push(timedList(value, (t) => `speaker ${t.speaker}`));
      else summaries.push(perSpeaker(field, value));
    } else if (typeof value[0].label === "string" && typeof value[0].score === "number" && value[0].start === undefined) {
      views.push(el("div", { class: "muted" }, field), chips(value));
    }
  }
  if (Array.isArray(out.languages)) {
    views.push(chips(out.languages.map((l) => ({ label: l.name, score: l.probability }))));
  }
  const scalars = Object.entries(out).filter(([, v]) => v !== null && typeof v !== "object");
  views.unshift(...summaries);
  if (!views.length && scalars.length) {
    views.push(el("table", { class: "kv" }, ...scalars.map(([k, v]) => el("tr", {}, el("td", {}, k.replaceAll("_", " ")), el("td", {}, String(v))))));
  }
  panel.append(...views, el("details", {}, el("summary", {}, "output JSON"), el("pre", {}, JSON.stringify(out, null, 2))));
  return panel;
}

function drawTimings(timings) {
  const total = timings.total || Math.max(...Object.values(timings)) || 1;
  const rows = Object.entries(timings).map(([name, secs]) =>
    el("div", { class: "timing" },
      el("span", {}, name),
      el("div", {}, el("div", { class: "bar", style: `width:${Math.max(0.5, (100 * secs) / total)}%` })),
      el("span", { class: "secs" }, `${secs.toFixed(2)} s`)));
  $("timings").replaceChildren(...rows);
}

// ---- start ------------------------------------------------------------------------------------

async function describeServer() {
  const response = await fetch("/v1/models", { headers: headers() }).catch(() => null);
  if (!response) return;
  if (response.status === 401) {
    $("key-row").hidden = false;
    $("server").textContent = "This server needs an API key: enter it below the question.";
    return;
  }
  const body = await response.json();
  if (body.data && body.data[0]) $("server").textContent = `Planner: ${body.data[0].planner}`;
}

$("file").addEventListener("change", () => pickFile("audio1", $("file")));
$("file2").addEventListener("change", () => pickFile("audio2", $("file2")));
$("record").addEventListener("click", toggleRecording);
$("transcript").addEventListener("click", downloadTranscript);
$("ask-form").addEventListener("submit", ask);
$("api-key").addEventListener("change", describeServer);
document.querySelectorAll(".example").forEach((b) => b.addEventListener("click", () => { $("question").value = b.textContent; $("question").focus(); }));
if (!window.MediaRecorder || !navigator.mediaDevices) $("record").hidden = true;
describeServer();
