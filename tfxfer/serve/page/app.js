// The try-it page: lists the models, shows their reports, and calls the
// REST API (the same :predict a TF Serving client calls). Every label and text
// is put in the page as text (textContent), never as HTML. Its URLs are relative to the page (see index.html).
"use strict";

const counted = (n, noun) => `${n} ${noun}${n === 1 ? "" : "s"}`;

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (key === "class") node.className = value;
    else node.setAttribute(key, value);
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

// Classes drawn as bars; the rest are summed in one line.
const SHOWN_CLASSES = 10;

function pct(x) { return (100 * x).toFixed(1) + "%"; }

async function predict(model, version, instance) {
  const response = await fetch(`v1/models/${encodeURIComponent(model)}/versions/${version}:predict`, {
    method: "POST",
    headers: {"Content-Type": "application/json"},
    body: JSON.stringify({instances: [instance]}),
  });
  const body = await response.json();
  if (!response.ok) throw new Error(body.error || response.statusText);
  return body.predictions[0];
}

function showScores(box, labels, prediction) {
  box.replaceChildren();
  const scores = prediction.scores;
  const top = el("div", {class: "top"}, "Predicted: ", el("span", {class: "predicted"}, prediction.classes));
  // A head that weighs imbalanced classes equally: scores rank, probabilities say how likely the answer is.
  const order = scores.map((s, i) => i).sort((a, b) => scores[b] - scores[a]);
  const answer = labels.indexOf(prediction.classes), probabilities = prediction.probabilities;
  if (answer < 0) {  // an export made with --abstain-below, not sure enough of its top score
    const p = probabilities ? `, probability ${probabilities[order[0]].toFixed(3)}` : "";
    top.append(el("span", {class: "probability"}, ` (top score: ${labels[order[0]]}${p}, below the model's threshold)`));
  } else if (probabilities && Math.abs(probabilities[answer] - scores[answer]) >= 0.0005) {
    top.append(el("span", {class: "probability"},
      ` (probability ${probabilities[answer].toFixed(3)} with classes as common as in training)`));
  }
  box.append(top);
  for (const i of order.slice(0, SHOWN_CLASSES)) {
    box.append(el("div", {class: "score"},
      el("span", {class: "name", title: labels[i]}, labels[i]),
      el("div", {class: "bar"}, el("div", {style: `width: ${pct(scores[i])}`})),
      el("span", {class: "value"}, scores[i].toFixed(3))));
  }
  const rest = order.slice(SHOWN_CLASSES);
  if (rest.length) {  // a model of 100 intents: the top ten, and what the others add up to
    const total = rest.reduce((sum, i) => sum + scores[i], 0);
    box.append(el("div", {class: "more"}, `${rest.length} more classes, ${total.toFixed(3)} in all`));
  }
}

function showError(box, error) {
  box.replaceChildren(el("div", {class: "error"}, "Error: ", error.message));
}

function readAsBase64(file) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(reader.result.split(",", 2)[1]);
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(file);
  });
}

// The inputs of tfxfer's exports, which the form can send; other SavedModels are named with how to call them.
const FORM_INPUTS = ["text", "image_bytes"];

function tryForm(model, version, info) {
  const result = el("div", {class: "result", "aria-live": "polite"});
  const form = el("form", {"data-model": model});
  const names = Object.keys(info.inputs);
  if (names.length !== 1 || !FORM_INPUTS.includes(names[0]) || info.inputs[names[0]] !== "string") {
    const takes = names.map((n) => `${n} (${info.inputs[n]})`).join(", ") || "no serving_default signature";
    return el("div", {class: "try"}, el("h3", {}, "Try it"), el("p", {class: "meta other-inputs"},
      `This model takes ${takes}; the form sends texts and images only. Call it with the REST API: POST `,
      el("code", {}, `/v1/models/${model}/versions/${version}:predict`), " with {\"instances\": [...]}."));
  }
  if ("image_bytes" in info.inputs) {
    const input = el("input", {type: "file", accept: "image/*", class: "image-input"});
    const drop = el("div", {class: "drop"}, "Drop an image here, or choose one: ", input);
    let chosen = null;
    input.addEventListener("change", () => { chosen = input.files[0] || null; });
    drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
    drop.addEventListener("dragleave", () => drop.classList.remove("over"));
    drop.addEventListener("drop", (e) => {
      e.preventDefault(); drop.classList.remove("over");
      chosen = e.dataTransfer.files[0] || null;
      if (chosen) drop.firstChild.textContent = `${chosen.name}: `;
    });
    form.append(drop, el("button", {type: "submit", class: "predict"}, "Predict"));
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      if (!chosen) { showError(result, new Error("choose or drop an image first")); return; }
      try { showScores(result, info.labels, await predict(model, version, {b64: await readAsBase64(chosen)})); }
      catch (error) { showError(result, error); }
    });
  } else {
    const text = el("textarea", {class: "text-input", placeholder: "Type a text to classify"});
    form.append(text, el("button", {type: "submit", class: "predict"}, "Predict"));
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      try { showScores(result, info.labels, await predict(model, version, text.value)); }
      catch (error) { showError(result, error); }
    });
  }
  return el("div", {class: "try"}, el("h3", {}, "Try it"), form, result);
}

function reportView(model, info) {
  const report = info.report;
  const box = el("div", {class: "report"}, el("h3", {}, "Fit report"));
  if (!report) { box.append(el("p", {class: "meta"}, "No report for this version.")); return box; }
  if (report.accuracy !== null && report.accuracy !== undefined) {
    const floor = report.majority && report.majority.accuracy != null
      ? ` (${report.majority.label == null ? "guessing" : `always “${report.majority.label}”`}: ${pct(report.majority.accuracy)})`
      : "";
    // The 95% interval says what this many labels can tell; the fold spread does not.
    const spread = report.accuracy_interval
      ? ` (95% interval ${pct(report.accuracy_interval[0])} - ${pct(report.accuracy_interval[1])})`
      : ` ± ${pct(report.accuracy_std || 0)}`;
    box.append(el("p", {}, `Cross-validated accuracy ${pct(report.accuracy)}${spread}${floor}`));
  }
  if (report.balanced_accuracy != null && report.per_class) {
    const classes = Object.values(report.per_class).filter((m) => m.support).length;
    box.append(el("p", {class: "balanced"}, `Balanced accuracy (the mean recall of the classes) ` +
                  `${pct(report.balanced_accuracy)} (one class always: ${pct(1 / classes)})`));
  }
  if (report.head) box.append(el("p", {class: "meta"}, `Head: ${report.head}`));
  if (report.per_class) {
    const table = el("table", {}, el("tr", {}, el("th", {}, "class"), el("th", {}, "precision"),
      el("th", {}, "recall"), el("th", {}, "f1"), el("th", {}, "support")));
    for (const [name, m] of Object.entries(report.per_class)) {
      table.append(el("tr", {}, el("td", {}, name), el("td", {}, m.precision.toFixed(3)),
        el("td", {}, m.recall.toFixed(3)), el("td", {}, m.f1.toFixed(3)), el("td", {}, m.support)));
    }
    box.append(table);
  }
  if (report.labels_needed) box.append(el("p", {class: "meta"}, report.labels_needed));
  const folder = `tfxfer/models/${encodeURIComponent(model)}/versions/${info.version}/reports/`;
  const plots = el("div", {class: "plots"});
  for (const file of info.files.filter((f) => f.endsWith(".png"))) {
    plots.append(el("img", {src: folder + file, alt: file.replace(".png", "").replace("_", " ")}));
  }
  box.append(plots);
  if (info.files.includes("report.html")) {
    box.append(el("p", {}, el("a", {class: "whole-report", href: folder + "report.html", target: "_blank"},
                              "The whole report, on its own page")));
  }
  return box;
}

function modelView(model) {
  const section = el("section", {class: "model", "data-model": model.name});
  const body = el("div");
  const available = model.versions.filter((v) => v.state === "AVAILABLE");
  const select = el("select", {class: "version"});
  for (const v of model.versions) {
    const tags = [...(v.version_labels || []), ...(v.state === "AVAILABLE" ? [] : [v.state.toLowerCase()])];
    const option = el("option", {value: v.version}, `version ${v.version}${tags.length ? " (" + tags.join(", ") + ")" : ""}`);
    if (v.version === model.latest) option.selected = true;
    select.append(option);
  }
  const render = () => {
    const info = model.versions.find((v) => String(v.version) === select.value);
    body.replaceChildren();
    if (info.state !== "AVAILABLE") { body.append(el("p", {class: "error"}, info.error || info.state)); return; }
    body.append(el("p", {class: "labels"}, "Labels: ", ...info.labels.map((l) => el("span", {}, l))),
                el("div", {class: "columns"}, tryForm(model.name, info.version, info), reportView(model.name, info)));
  };
  select.addEventListener("change", render);
  section.append(el("h2", {}, model.name), el("p", {class: "meta"}, "Serving ", select,
                 ` (${available.length} of ${counted(model.versions.length, "version")} available)`), body);
  render();
  return section;
}

async function load() {
  const status = document.getElementById("status");
  try {
    const data = await (await fetch("tfxfer/models")).json();
    if (!data.ready) { status.textContent = "Loading the models…"; setTimeout(load, 1000); return; }
    status.textContent = counted(data.models.length, "model");
    document.getElementById("models").replaceChildren(...data.models.map(modelView));
  } catch (error) {
    status.textContent = `Cannot reach the server: ${error.message}`;
    setTimeout(load, 2000);
  }
}

load();
