// The translation page: reads /frontend/settings and /languages, then talks to /translate and
// /translate_file on this server only (the Content-Security-Policy allows nothing else).
"use strict";

const ALTERNATIVES = 3; // LibreTranslate's page asks for three
const KEY_STORE = "udn.apiKey";
const AUTO = "auto";

const $ = (id) => document.getElementById(id);
const page = {
  settings: null,
  names: new Map(), // code -> name
  targets: new Map(), // source code -> target codes
  allTargets: [],
  detected: null, // the code detected for the text now shown
  alternatives: ALTERNATIVES,
  sequence: 0, // the latest translation asked for; older answers are dropped
  inFlight: null,
  timer: 0,
  upload: null,
};

function nameOf(code) {
  return page.names.get(code) || code;
}

function showError(message) {
  $("error").textContent = message || "";
}

async function getJSON(path) {
  const response = await fetch(path, { headers: { Accept: "application/json" } });
  if (!response.ok) throw new Error(`${path} answered ${response.status}`);
  return response.json();
}

// --- languages -----------------------------------------------------------------------------

function fillSelect(select, codes, selected) {
  const options = codes.map((code) => {
    const option = document.createElement("option");
    option.value = code;
    option.textContent = code === AUTO ? "Auto Detect" : nameOf(code);
    return option;
  });
  select.replaceChildren(...options);
  select.value = codes.includes(selected) ? selected : codes[0] || "";
}

function byName(codes) {
  return [...codes].sort((a, b) => nameOf(a).localeCompare(nameOf(b)));
}

function targetsFor(source) {
  return source === AUTO ? page.allTargets : page.targets.get(source) || [];
}

function refreshTargets(preferred) {
  const target = $("target");
  const wanted = preferred || target.value;
  fillSelect(target, byName(targetsFor($("source").value)), wanted);
  refreshSwap();
}

function served(source, target) {
  return (page.targets.get(source) || []).includes(target);
}

function refreshSwap() {
  const source = $("source").value === AUTO ? page.detected : $("source").value;
  $("swap").disabled = !source || !served($("target").value, source);
}

function swap() {
  const from = $("source").value === AUTO ? page.detected : $("source").value;
  const to = $("target").value;
  if (!from || !served(to, from)) return;
  const translated = $("output").value;
  $("source").value = to;
  refreshTargets(from);
  if (translated) $("input").value = translated;
  clearDetected();
  updateCount();
  translateNow();
}

// --- text ----------------------------------------------------------------------------------

function apiKey() {
  return $("api-key").value.trim();
}

function clearDetected() {
  page.detected = null;
  $("detected").textContent = "";
  refreshSwap();
}

function updateCount() {
  const limit = page.settings ? page.settings.charLimit : 0;
  const length = $("input").value.length;
  const count = $("count");
  count.textContent = limit ? `${length.toLocaleString()} / ${limit.toLocaleString()}` : `${length}`;
  count.classList.toggle("near", limit > 0 && length >= limit * 0.9);
  count.classList.toggle("over", limit > 0 && length >= limit);
}

function showAlternatives(list) {
  const items = (list || []).map((text) => {
    const item = document.createElement("li");
    const button = document.createElement("button");
    button.type = "button";
    button.className = "alternative";
    button.textContent = text;
    button.title = "Use this translation";
    button.addEventListener("click", () => {
      // The chosen alternative becomes the translation; the one it replaces joins the list.
      const current = $("output").value;
      $("output").value = text;
      button.textContent = current;
      text = current;
    });
    item.append(button);
    return item;
  });
  $("alternative-list").replaceChildren(...items);
  $("alternatives").hidden = items.length === 0;
}

function clearResult() {
  $("output").value = "";
  showAlternatives([]);
  clearDetected();
  setBusy(false);
}

function setBusy(busy) {
  $("busy").textContent = busy ? "Translating…" : "";
  $("output").classList.toggle("stale", busy);
}

function scheduleTranslation() {
  clearTimeout(page.timer);
  const wait = page.settings ? page.settings.frontendTimeout : 500;
  page.timer = setTimeout(translateNow, wait);
}

// The server's sentence, or what to do about a missing or refused key (marking the field).
function explain(status, message) {
  const keyProblem = status === 401 || status === 403;
  $("api-key").classList.toggle("invalid", keyProblem);
  if (!keyProblem) return message;
  $("key-box").hidden = false;
  if (status === 401 && !apiKey()) return "This server needs an API key: enter yours in the API key field.";
  return message;
}

function retryAfter(response) {
  const seconds = parseInt(response.headers.get("Retry-After") || "", 10);
  return Number.isFinite(seconds) ? ` Try again in ${seconds} s.` : "";
}

async function translateNow() {
  clearTimeout(page.timer);
  const text = $("input").value;
  const sequence = ++page.sequence;
  if (page.inFlight) page.inFlight.abort();
  page.inFlight = null;
  if (!text.trim() || !page.settings) {
    clearResult();
    showError("");
    return;
  }
  const body = {
    q: text,
    source: $("source").value,
    target: $("target").value,
    format: "text",
    alternatives: page.alternatives,
  };
  if (apiKey()) body.api_key = apiKey();
  const controller = new AbortController();
  page.inFlight = controller;
  setBusy(true);
  let response;
  let answer;
  try {
    response = await fetch("/translate", {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify(body),
      signal: controller.signal,
    });
    answer = await response.json().catch(() => ({}));
  } catch (error) {
    if (sequence !== page.sequence) return;
    setBusy(false);
    showError(`The server did not answer: ${error.message}`);
    return;
  }
  if (sequence !== page.sequence) return; // a newer request is on its way
  page.inFlight = null;
  setBusy(false);
  if (!response.ok) {
    const message = answer.error || `The server answered ${response.status}.`;
    if (response.status === 400 && page.alternatives > 0 && /'alternatives'/.test(message)) {
      page.alternatives = 0; // this server gives none: ask again without
      translateNow();
      return;
    }
    showError(explain(response.status, message) + (response.status === 429 ? retryAfter(response) : ""));
    return;
  }
  $("api-key").classList.remove("invalid");
  showError("");
  $("output").value = answer.translatedText;
  showAlternatives(answer.alternatives);
  const detected = answer.detectedLanguage;
  if (body.source === AUTO && detected && detected.language) {
    page.detected = detected.language;
    $("detected").textContent = `Detected: ${nameOf(detected.language)} (${Math.round(detected.confidence)}%)`;
  } else {
    page.detected = null;
    $("detected").textContent = "";
  }
  refreshSwap();
}

// --- copying -------------------------------------------------------------------------------

async function copyFrom(field, button) {
  const text = field.value;
  if (!text) return;
  let copied = false;
  try {
    await navigator.clipboard.writeText(text);
    copied = true;
  } catch {
    // No clipboard API (a page served over plain HTTP to another host): copy the selection.
    field.focus();
    field.select();
    copied = document.execCommand("copy");
  }
  const label = button.textContent;
  button.textContent = copied ? "Copied" : "Press Ctrl+C";
  setTimeout(() => (button.textContent = label), 1500);
}

// --- files ---------------------------------------------------------------------------------

function chosenFile() {
  return $("file").files[0] || null;
}

function refreshFileButton() {
  const file = chosenFile();
  const auto = $("source").value === AUTO;
  $("file-translate").disabled = !file || auto || page.upload !== null;
  if (auto) $("file-status").textContent = "Choose the language the file is in: Auto Detect is for text.";
  else if (page.upload === null && $("file-download").hidden) $("file-status").textContent = "";
}

function fileChosen() {
  const file = chosenFile();
  $("file-name").textContent = file ? `${file.name} (${formatSize(file.size)})` : "Choose a file";
  $("file-download").hidden = true;
  showError("");
  refreshFileButton();
}

function formatSize(bytes) {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

function fileProgress(status, percent) {
  const progress = $("file-progress");
  progress.hidden = status === null;
  if (percent === null) progress.removeAttribute("value");
  else progress.value = percent;
  $("file-status").textContent = status || "";
}

function translateFile(event) {
  event.preventDefault();
  const file = chosenFile();
  if (!file || $("source").value === AUTO) return;
  const form = new FormData();
  form.append("file", file);
  form.append("source", $("source").value);
  form.append("target", $("target").value);
  if (apiKey()) form.append("api_key", apiKey());
  // XMLHttpRequest, not fetch: only it reports the upload's progress.
  const request = new XMLHttpRequest();
  page.upload = request;
  request.open("POST", "/translate_file");
  request.responseType = "json";
  request.upload.addEventListener("progress", (e) => {
    if (e.lengthComputable) fileProgress(`Uploading… ${Math.round((100 * e.loaded) / e.total)}%`, (100 * e.loaded) / e.total);
  });
  request.upload.addEventListener("load", () => fileProgress("Translating…", null));
  request.addEventListener("load", () => fileDone(request, file.name));
  request.addEventListener("error", () => fileFailed("The server did not answer."));
  request.addEventListener("abort", () => fileFailed(""));
  $("file-download").hidden = true;
  $("file-cancel").hidden = false;
  showError("");
  fileProgress("Uploading…", 0);
  refreshFileButton();
  request.send(form);
}

function fileFailed(message) {
  page.upload = null;
  $("file-cancel").hidden = true;
  fileProgress(null, 0);
  showError(message);
  refreshFileButton();
}

function fileDone(request, name) {
  const answer = request.response || {};
  if (request.status !== 200 || !answer.translatedFileUrl) {
    fileFailed(explain(request.status, answer.error || `The server answered ${request.status}.`));
    return;
  }
  page.upload = null;
  $("file-cancel").hidden = true;
  fileProgress(null, 100);
  const link = $("file-download");
  link.href = answer.translatedFileUrl;
  link.download = name;
  link.textContent = `Download ${name}`;
  link.hidden = false;
  $("file-status").textContent = "Translated.";
  refreshFileButton();
}

function setMode(files) {
  $("mode-text").setAttribute("aria-selected", String(!files));
  $("mode-files").setAttribute("aria-selected", String(files));
  $("text-panel").hidden = files;
  $("file-panel").hidden = !files;
  refreshFileButton();
}

// --- start ---------------------------------------------------------------------------------

function readLanguages(list) {
  for (const entry of list) {
    page.names.set(entry.code, entry.name);
    page.targets.set(entry.code, entry.targets || []);
  }
  const target = page.settings.language && page.settings.language.target;
  if (target && !page.names.has(target.code)) page.names.set(target.code, target.name);
  page.allTargets = [...new Set(list.flatMap((entry) => entry.targets || []))];
}

function startKeyField() {
  const { apiKeys, keyRequired } = page.settings;
  $("key-box").hidden = !(apiKeys || keyRequired);
  $("key-need").textContent = keyRequired ? "(required)" : "(optional)";
  try {
    $("api-key").value = localStorage.getItem(KEY_STORE) || "";
  } catch {
    // Storage refused (private browsing): the key lasts as long as the page.
  }
  $("api-key").addEventListener("change", () => {
    try {
      localStorage.setItem(KEY_STORE, apiKey());
    } catch {}
    $("api-key").classList.remove("invalid");
    translateNow();
  });
}

function startFiles() {
  const formats = page.settings.supportedFilesFormat || [];
  if (!page.settings.filesTranslation || formats.length === 0) return;
  $("modes").hidden = false;
  $("file").accept = formats.join(",");
  $("formats").textContent = formats.join(" ");
  $("mode-text").addEventListener("click", () => setMode(false));
  $("mode-files").addEventListener("click", () => setMode(true));
  $("file").addEventListener("change", fileChosen);
  const drop = $("drop");
  drop.addEventListener("dragover", (event) => {
    event.preventDefault();
    drop.classList.add("over");
  });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (event) => {
    event.preventDefault();
    drop.classList.remove("over");
    if (event.dataTransfer.files.length) {
      $("file").files = event.dataTransfer.files;
      fileChosen();
    }
  });
  $("file-form").addEventListener("submit", translateFile);
  $("file-cancel").addEventListener("click", () => page.upload && page.upload.abort());
}

async function start() {
  let languages;
  try {
    [page.settings, languages] = await Promise.all([getJSON("/frontend/settings"), getJSON("/languages")]);
  } catch (error) {
    showError(`Could not read this server's settings (${error.message}). Reload to try again.`);
    return;
  }
  readLanguages(languages);
  const query = new URLSearchParams(location.search);
  const sources = [AUTO, ...byName(page.targets.keys())];
  fillSelect($("source"), sources, query.get("source") || page.settings.language.source.code);
  refreshTargets(query.get("target") || page.settings.language.target.code);
  $("input").maxLength = page.settings.charLimit;
  if (query.get("q")) $("input").value = query.get("q").slice(0, page.settings.charLimit);
  $("source").disabled = $("target").disabled = false;
  startKeyField();
  startFiles();
  updateCount();
  document.body.dataset.ready = "true";
  if ($("input").value) translateNow();
}

function wire() {
  const input = $("input");
  input.addEventListener("input", () => {
    updateCount();
    scheduleTranslation();
  });
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      translateNow();
    }
  });
  $("source").addEventListener("change", () => {
    clearDetected();
    refreshTargets();
    refreshFileButton();
    translateNow();
  });
  $("target").addEventListener("change", () => {
    refreshSwap();
    translateNow();
  });
  $("swap").addEventListener("click", swap);
  $("clear").addEventListener("click", () => {
    input.value = "";
    updateCount();
    translateNow();
    input.focus();
  });
  $("copy-input").addEventListener("click", (e) => copyFrom(input, e.currentTarget));
  $("copy-output").addEventListener("click", (e) => copyFrom($("output"), e.currentTarget));
}

wire();
start();
