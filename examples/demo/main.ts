// The fine-tuning demo: a page in the spirit of Teachable Machine, built on the package exactly as a
// consumer uses it (`graft-webgpu`, resolved to the built dist/ by vite.config.ts). A backbone with
// pre-trained weights, classes by name, images per class (files, drag and drop, webcam), a recipe,
// training with live curves, a confusion matrix on the validation split, predictions, export/import.
import {
  type Dataset, type EpochLog, type Gpu, GraftError, type Tensor, argmaxRows, confusionMatrix, fromModelPreprocessing, graft,
  imageDataset, learningCurves, loadImage, loadPretrained, models, predictProbabilities, preprocess, readSafetensors,
  runRecipe, saveSafetensors, trainValSplit,
} from 'graft-webgpu';
import { runSpeed } from './speed.ts';

type Net = ReturnType<typeof models.createModel>;
interface Picture { bytes: Uint8Array; name: string; url: string }
interface ClassEntry { name: string; pictures: Picture[]; card: HTMLElement }

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;
const status = $('status');
const say = (text: string, error = false) => {
  status.textContent = text;
  status.className = error ? 'error' : '';
};
const message = (e: unknown) => (e instanceof Error ? e.message : String(e)).replace(/^graft: /, '');

let gpu: Gpu | null = null;
let weights: { source: string | Blob; label: string } | null = null;
const classes: ClassEntry[] = [];
let net: Net | null = null;
let netClasses: string[] = [];
let inputSize = 64;
let cancelled = false;
let busy = false;

// ---- the GPU -----------------------------------------------------------------------------------
async function start(): Promise<void> {
  const arch = $<HTMLSelectElement>('arch');
  for (const a of models.ARCHS) arch.add(new Option(a, a, a === 'darknet-tiny', a === 'darknet-tiny'));
  try {
    gpu = await graft();
    say(`WebGPU ready: ${gpu.adapter.description || gpu.adapter.vendor || 'adapter'}${gpu.adapter.isCpu ? ' (on the CPU: slow, but it works)' : ''}. Load a backbone, add two classes or more with images, and train.`);
  } catch (e) {
    say(`${message(e)}`, true);
    for (const id of ['load-backbone', 'train', 'speed', 'export']) $<HTMLButtonElement>(id).disabled = true;
  }
}

// ---- backbone ----------------------------------------------------------------------------------
const WEIGHT_EXTENSIONS = ['.safetensors', '.pth', '.pt', '.bin', '.h5', '.hdf5', '.json'];

/** Dropped or picked weight files: one .safetensors/.pth/.h5, or a TF.js model.json with its shards. */
async function chooseWeightFiles(files: File[]): Promise<void> {
  if (!files.length) return;
  const json = files.find((f) => f.name.toLowerCase().endsWith('.json'));
  if (json) {
    weights = await layersModelFromFiles(json, files);
    if (weights) void loadBackbone();
    return;
  }
  const [file] = files;
  if (files.length > 1) return say(`${files.length} files: give one weight file, or a TF.js model.json together with its weight shards`, true);
  if (!WEIGHT_EXTENSIONS.some((x) => file.name.toLowerCase().endsWith(x))) {
    say(`${file.name}: not a weight file Graft reads (safetensors, .pth, Keras .h5, or a TF.js model.json with its shards)`, true);
    return;
  }
  weights = { source: file, label: file.name };
  void loadBackbone();
}

/**
 * A TF.js model.json picked together with its shards: the manifest's shard paths become blob: URLs
 * of the picked files, and the rewritten model.json a blob: URL of its own, read as a LayersModel.
 */
async function layersModelFromFiles(json: File, files: File[]): Promise<{ source: string; label: string } | null> {
  let model: { weightsManifest?: { paths: string[] }[] };
  try {
    model = JSON.parse(await json.text());
  } catch (e) {
    say(`${json.name}: not JSON (${message(e)})`, true);
    return null;
  }
  if (!Array.isArray(model.weightsManifest)) {
    say(`${json.name}: no weightsManifest, so not a TF.js LayersModel`, true);
    return null;
  }
  const byName = new Map(files.map((f) => [f.name, f]));
  const missing = model.weightsManifest.flatMap((g) => g.paths).filter((p) => !byName.has(p.split('/').pop()!));
  if (missing.length) {
    say(`${json.name} needs its weight shards picked with it: missing ${missing.slice(0, 3).join(', ')}${missing.length > 3 ? ` and ${missing.length - 3} more` : ''}`, true);
    return null;
  }
  for (const group of model.weightsManifest) group.paths = group.paths.map((p) => URL.createObjectURL(byName.get(p.split('/').pop()!)!));
  return { source: URL.createObjectURL(new Blob([JSON.stringify(model)], { type: 'application/json' })), label: `${json.name} (${files.length - 1} shards)` };
}

/** A fresh backbone of the chosen architecture with the chosen weights, and what was loaded. */
async function buildBackbone(onProgress: (fraction: number) => void): Promise<{ net: Net; loaded: number; note: string }> {
  if (!gpu) throw new GraftError('no WebGPU device');
  const arch = $<HTMLSelectElement>('arch').value;
  const url = $<HTMLInputElement>('weights-url').value.trim();
  if (!weights && !url) throw new GraftError('give a weights URL or drop a weight file');
  // An absolute URL: Graft keeps downloads in the browser's Cache API, so the second load is local.
  const source = weights?.source ?? new URL(url, location.href).href;
  const fresh = models.createModel(arch, { gpu, init: 'zeros' });
  try {
    const report = await loadPretrained(fresh, source, {
      strict: false,
      format: typeof source === 'string' && source.startsWith('blob:') ? 'layers-model' : undefined,
      onProgress,
    });
    // The classifier is replaced for the new classes: only backbone weights must all be there.
    const head = /^(classifier|fc|head)\b/;
    const missing = report.missing.filter((n) => !head.test(n));
    const mismatched = report.mismatched.filter((m) => !head.test(m));
    if (missing.length || mismatched.length || report.loaded === 0) {
      const problems = [...missing.map((n) => `missing ${n}`), ...mismatched];
      throw new GraftError(`these weights do not fit ${arch}: ${problems.slice(0, 3).join('; ') || 'nothing matched'}${problems.length > 3 ? `; … (${problems.length} in all)` : ''}`);
    }
    return { net: fresh, loaded: report.loaded, note: `${report.format}, ${report.loaded} tensors` };
  } catch (e) {
    fresh.dispose();
    throw e;
  }
}

async function loadBackbone(): Promise<void> {
  const info = $<HTMLSpanElement>('backbone-info');
  try {
    const { net: probe, note } = await buildBackbone((p) => (info.textContent = `loading… ${Math.round(100 * p)}%`));
    probe.dispose();
    info.textContent = `${$<HTMLSelectElement>('arch').value} from ${weights?.label ?? $<HTMLInputElement>('weights-url').value}: ${note}`;
    say('Backbone loaded. Add classes and images, then train.');
  } catch (e) {
    weights = null;
    info.textContent = 'not loaded';
    say(message(e), true);
  }
}

// ---- classes and images ------------------------------------------------------------------------
function addClass(name: string): ClassEntry | null {
  name = name.trim();
  if (!name) return null;
  if (classes.some((c) => c.name === name)) {
    say(`there is already a class named '${name}'`, true);
    return null;
  }
  const card = document.createElement('div');
  card.className = 'class-card';
  card.dataset.class = name;
  card.innerHTML = `<div class="row"><b></b> <span class="count muted">0 images</span>
    <input type="file" class="class-files" accept="image/*" multiple>
    <button class="class-webcam">Webcam</button> <button class="class-remove">Remove</button></div>
    <div class="drop">drop images here</div><div class="thumbs"></div>`;
  card.querySelector('b')!.textContent = name;
  const entry: ClassEntry = { name, pictures: [], card };
  const input = card.querySelector<HTMLInputElement>('.class-files')!;
  input.onchange = () => void addPictures(entry, Array.from(input.files ?? []));
  dropZone(card.querySelector<HTMLElement>('.drop')!, (files) => void addPictures(entry, files));
  card.querySelector<HTMLButtonElement>('.class-webcam')!.onclick = async () => {
    const bytes = await webcamPicture();
    if (bytes) await addPictures(entry, [new File([bytes as BlobPart], `webcam-${entry.pictures.length}.png`, { type: 'image/png' })]);
  };
  card.querySelector<HTMLButtonElement>('.class-remove')!.onclick = () => {
    classes.splice(classes.indexOf(entry), 1);
    card.remove();
  };
  $('classes').append(card);
  classes.push(entry);
  return entry;
}

async function addPictures(entry: ClassEntry, files: File[]): Promise<void> {
  const skipped: string[] = [];
  for (const file of files) {
    if (!file.type.startsWith('image/') && !/\.(png|jpe?g|gif|webp|bmp)$/i.test(file.name)) {
      skipped.push(file.name);
      continue;
    }
    const bytes = new Uint8Array(await file.arrayBuffer());
    const url = URL.createObjectURL(file);
    entry.pictures.push({ bytes, name: `${entry.name}/${file.name}`, url });
    const img = document.createElement('img');
    img.src = url;
    img.title = file.name;
    entry.card.querySelector('.thumbs')!.append(img);
  }
  entry.card.querySelector('.count')!.textContent = `${entry.pictures.length} images`;
  if (skipped.length) say(`skipped ${skipped.length} file${skipped.length > 1 ? 's' : ''} that are not images: ${skipped.slice(0, 3).join(', ')}`, true);
}

function dropZone(zone: HTMLElement, onFiles: (files: File[]) => void): void {
  zone.addEventListener('dragover', (e) => {
    e.preventDefault();
    zone.classList.add('over');
  });
  zone.addEventListener('dragleave', () => zone.classList.remove('over'));
  zone.addEventListener('drop', (e) => {
    e.preventDefault();
    zone.classList.remove('over');
    onFiles(Array.from(e.dataTransfer?.files ?? []));
  });
}

let stream: MediaStream | null = null;
async function webcamPicture(): Promise<Uint8Array | null> {
  const video = $<HTMLVideoElement>('webcam');
  try {
    if (!stream) {
      if (!navigator.mediaDevices?.getUserMedia) throw new Error('this browser gives no camera access (it needs https or localhost)');
      stream = await navigator.mediaDevices.getUserMedia({ video: { width: 224, height: 224 } });
      video.srcObject = stream;
      video.hidden = false;
      await video.play();
    }
    const canvas = document.createElement('canvas');
    canvas.width = video.videoWidth;
    canvas.height = video.videoHeight;
    canvas.getContext('2d')!.drawImage(video, 0, 0);
    const blob = await new Promise<Blob | null>((resolve) => canvas.toBlob(resolve, 'image/png'));
    return blob ? new Uint8Array(await blob.arrayBuffer()) : null;
  } catch (e) {
    say(`webcam: ${message(e)}`, true);
    return null;
  }
}

// ---- training ----------------------------------------------------------------------------------
class Cancelled extends Error {}

function defaultCut(n: Net): string {
  const inside = n.cutPoints.filter((c) => c.includes('.') || /^layer\d$/.test(c));
  return inside[inside.length - 1] ?? n.cutPoints[0];
}

async function train(): Promise<void> {
  if (busy) return;
  const used = classes.filter((c) => c.pictures.length > 0);
  if (used.length < 2) return say('add at least two classes with images', true);
  const few = used.find((c) => c.pictures.length < 2);
  if (few) return say(`class '${few.name}' needs at least 2 images (one may go to validation)`, true);
  const epochs = Number($<HTMLInputElement>('epochs').value);
  const size = Number($<HTMLInputElement>('size').value);
  const valFraction = Number($<HTMLInputElement>('val-fraction').value);
  const lr = Number($<HTMLInputElement>('lr').value);
  if (!(lr > 0 && lr < 1)) return say('the learning rate must be between 0 and 1', true);
  if (!(Number.isInteger(epochs) && epochs >= 1)) return say('epochs must be a whole number, 1 or more', true);
  if (!(Number.isInteger(size) && size >= 16)) return say('the input size must be a whole number of pixels, 16 or more', true);
  const recipe = $<HTMLSelectElement>('recipe').value;
  busy = true;
  cancelled = false;
  setTraining(true);
  let fresh: Net | null = null;
  try {
    say('Reading the images…');
    const names = used.map((c) => c.name);
    const pictures = used.flatMap((c, label) => c.pictures.map((p) => ({ ...p, label })));
    let data: Dataset;
    try {
      data = await imageDataset(pictures.map((p) => p.bytes), pictures.map((p) => p.label), { classNames: names, names: pictures.map((p) => p.name), name: 'your images' });
    } catch (e) {
      throw new GraftError(`${message(e)}. Every image must have the same size: crop or resize them first`);
    }
    const split = trainValSplit(data, { valFraction, stratified: true, seed: 0 });
    say('Loading the backbone…');
    ({ net: fresh } = await buildBackbone((p) => ($('progress-text').textContent = `loading the backbone… ${Math.round(100 * p)}%`)));
    models.withHead(fresh, { classes: names.length, seed: 0 });
    fresh.labels = names;
    fresh.preprocessing = { ...fresh.preprocessing, size: [size, size] };
    const prep = fromModelPreprocessing(fresh.preprocessing);
    const headEpochs = recipe === 'staged' ? 1 : 0;
    const totalEpochs = epochs + headEpochs;
    const history: EpochLog[] = [];
    say(`Training ${recipe}: ${split.train.length} training and ${split.val.length} validation images, ${size}x${size}…`);
    await runRecipe(recipe, fresh, { train: split.train, validation: split.val }, {
      epochs, headEpochs: headEpochs || undefined, lr, batchSize: 8, seed: 0, cut: defaultCut(fresh), preprocess: prep,
      callbacks: [{
        onBatchEnd(log, s) {
          if (cancelled) throw new Cancelled('cancelled');
          const done = (history.length + (log.step + 1) / s.stepsPerEpoch) / totalEpochs;
          $<HTMLProgressElement>('progress').value = Math.min(1, done);
          $('progress-text').textContent = `epoch ${history.length + 1}/${totalEpochs}, batch ${log.step + 1}/${s.stepsPerEpoch}, loss ${log.loss.toFixed(3)}`;
        },
        onEpochEnd(log) {
          history.push({ ...log });
          drawCurves(history);
        },
      }],
    });
    const last = history[history.length - 1];
    const probs = await predictProbabilities(fresh, split.val, { preprocess: prep });
    const predicted = argmaxRows(probs.probabilities, probs.classes);
    const labels = Array.from({ length: split.val.length }, (_, i) => split.val.label(i));
    drawConfusion(confusionMatrix(predicted, labels, names.length), names);
    const correct = labels.filter((l, i) => predicted[i] === l).length;
    $('val-result').innerHTML = `Validation accuracy: <b id="val-accuracy">${((100 * correct) / labels.length).toFixed(1)}%</b> (${correct}/${labels.length}; chance ${(100 / names.length).toFixed(0)}%), last epoch loss ${last.loss.toFixed(3)}`;
    net?.dispose();
    net = fresh;
    fresh = null;
    netClasses = names;
    inputSize = size;
    $<HTMLButtonElement>('export').disabled = false;
    $<HTMLProgressElement>('progress').value = 1;
    say('Trained. Try it on new images (4), or export it (5).');
  } catch (e) {
    if (e instanceof Cancelled || cancelled) say('Training cancelled; the previous network (if any) is kept.');
    else say(message(e), true);
  } finally {
    fresh?.dispose();
    busy = false;
    setTraining(false);
  }
}

function setTraining(on: boolean): void {
  $<HTMLButtonElement>('train').disabled = on;
  $<HTMLButtonElement>('cancel').disabled = !on;
  if (on) {
    $<HTMLProgressElement>('progress').value = 0;
    $('curves').innerHTML = '';
    $('confusion').innerHTML = '';
    $('val-result').innerHTML = '';
  }
}

function drawCurves(history: EpochLog[]): void {
  const { loss, accuracy } = learningCurves([{ name: 'fine-tune', history }]);
  $('curves').innerHTML = `<div id="curve-loss">${loss}</div><div id="curve-accuracy">${accuracy}</div>`;
}

function drawConfusion(matrix: number[][], names: string[]): void {
  const esc = (s: string) => s.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);
  const head = `<tr><th>true \\ predicted</th>${names.map((n) => `<th>${esc(n)}</th>`).join('')}</tr>`;
  const rows = matrix.map((row, i) => `<tr><th>${esc(names[i])}</th>${row.map((v, j) => `<td style="background:${i === j ? '#e3f4e3' : v ? '#fbe3e3' : ''}">${v}</td>`).join('')}</tr>`);
  $('confusion').innerHTML = `<p>Confusion matrix (validation split)</p><table id="confusion-table">${head}${rows.join('')}</table>`;
}

// ---- prediction --------------------------------------------------------------------------------
async function predictBytes(bytes: Uint8Array, name: string): Promise<void> {
  if (!net) return say('train a network (3) or load one (5) first', true);
  const list = $('predictions');
  list.innerHTML = '';
  let x: Tensor | null = null;
  try {
    $<HTMLImageElement>('predict-image').src = URL.createObjectURL(new Blob([bytes as BlobPart]));
    x = preprocess(net, await loadImage(bytes, name));
    const [p] = await net.predict(x, { top: Math.min(3, netClasses.length) });
    for (const t of p.top) {
      const li = document.createElement('li');
      li.textContent = `${t.label}: ${(100 * t.probability).toFixed(1)}%`;
      list.append(li);
    }
    say(`${name}: ${p.top[0].label}`);
  } catch (e) {
    say(message(e), true);
  } finally {
    x?.dispose();
  }
}

// ---- export and import -------------------------------------------------------------------------
async function exportNet(): Promise<void> {
  if (!net) return;
  const bytes = await saveSafetensors(net, undefined, { metadata: { classes: JSON.stringify(netClasses), size: String(inputSize) } });
  const a = $<HTMLAnchorElement>('download');
  a.href = URL.createObjectURL(new Blob([bytes as BlobPart], { type: 'application/octet-stream' }));
  a.download = `${net.arch}-${netClasses.join('-').replace(/[^\w-]+/g, '_').slice(0, 60)}.safetensors`;
  a.textContent = `${a.download} (${(bytes.length / 1e6).toFixed(1)} MB)`;
  a.hidden = false;
  a.click();
}

async function loadNet(file: File | undefined): Promise<void> {
  if (!file || !gpu) return;
  let fresh: Net | null = null;
  try {
    const bytes = new Uint8Array(await file.arrayBuffer());
    const header = await readSafetensors(bytes);
    const arch = header.metadata.arch;
    let names: unknown;
    try {
      names = JSON.parse(header.metadata.classes ?? 'null');
    } catch {
      names = null;
    }
    if (!arch || !Array.isArray(names) || names.length < 2) throw new GraftError(`${file.name}: not a network exported by this page (its metadata has no arch and class names)`);
    fresh = models.createModel(arch, { gpu, init: 'zeros' });
    models.withHead(fresh, { classes: names.length });
    await loadPretrained(fresh, bytes);
    fresh.labels = names.map(String);
    inputSize = Number(header.metadata.size) || fresh.preprocessing.size[0];
    fresh.preprocessing = { ...fresh.preprocessing, size: [inputSize, inputSize] };
    net?.dispose();
    net = fresh;
    fresh = null;
    netClasses = names.map(String);
    $<HTMLButtonElement>('export').disabled = false;
    say(`Loaded ${file.name}: ${arch} for ${netClasses.join(', ')}`);
    $('loaded-model')?.remove();
    const tag = document.createElement('span');
    tag.id = 'loaded-model';
    tag.textContent = `loaded: ${arch}, classes ${netClasses.join(', ')}`;
    $<HTMLInputElement>('load-model').after(tag);
  } catch (e) {
    say(message(e), true);
  } finally {
    fresh?.dispose();
  }
}

// ---- wiring ------------------------------------------------------------------------------------
$('add-class').onclick = () => {
  const input = $<HTMLInputElement>('class-name');
  if (addClass(input.value)) input.value = '';
};
$<HTMLInputElement>('class-name').onkeydown = (e) => {
  if (e.key === 'Enter') $('add-class').click();
};
$('load-backbone').onclick = () => {
  weights = weights && (typeof weights.source !== 'string' || weights.source.startsWith('blob:')) ? weights : null;
  void loadBackbone();
};
$<HTMLInputElement>('weights-url').oninput = () => (weights = null);
$<HTMLInputElement>('weights-file').onchange = (e) => void chooseWeightFiles(Array.from((e.target as HTMLInputElement).files ?? []));
dropZone($('weights-drop'), (files) => void chooseWeightFiles(files));
$('train').onclick = () => void train();
$('cancel').onclick = () => {
  cancelled = true;
  $('progress-text').textContent = 'cancelling after this batch…';
};
const predictFile = async (file: File | undefined) => file && predictBytes(new Uint8Array(await file.arrayBuffer()), file.name);
$<HTMLInputElement>('predict-file').onchange = (e) => void predictFile((e.target as HTMLInputElement).files?.[0]);
dropZone($('predict-drop'), (files) => void predictFile(files[0]));
$('predict-webcam').onclick = async () => {
  const bytes = await webcamPicture();
  if (bytes) await predictBytes(bytes, 'webcam');
};
$('export').onclick = () => void exportNet();
$<HTMLInputElement>('load-model').onchange = (e) => void loadNet((e.target as HTMLInputElement).files?.[0]);
$('speed').onclick = async () => {
  if (!gpu || busy) return;
  busy = true;
  $<HTMLButtonElement>('speed').disabled = true;
  try {
    await runSpeed(gpu, { small: $<HTMLInputElement>('speed-small').checked, table: $('speed-table'), status: $('speed-status') });
  } catch (e) {
    $('speed-status').textContent = message(e);
  } finally {
    busy = false;
    $<HTMLButtonElement>('speed').disabled = false;
  }
};

await start();
// For tests and the curious: the page's state.
(window as unknown as { demo: unknown }).demo = { get ready() { return !!gpu; }, get trained() { return !!net; }, classes };
