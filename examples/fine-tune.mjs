// The README's fine-tuning example, as a user of the package runs it (tests/package runs this file
// in a scratch project that installed the packed tarball, so it cannot rot):
//   node fine-tune.mjs <darknet-tiny folder or URL> <images: one folder per class> <new image> [out.safetensors]
import { adam, earlyStopping, fit, fromModelPreprocessing, graft, imageFolder, loadImage, loadPretrained, models, preprocess, saveSafetensors, trainValSplit } from 'graft-webgpu';

const [weights, images, newImage, out = 'fine-tuned.safetensors'] = process.argv.slice(2);
const data = await imageFolder(images);                       // images/<class>/<file>.png
const { train, val } = trainValSplit(data, { valFraction: 0.25, stratified: true, seed: 0 });

const gpu = await graft();                                    // Dawn in Node (SwiftShader without a GPU)
const net = models.darknetTiny({ gpu });                       // with its ImageNet classifier
await loadPretrained(net, weights);                           // TF.js model.json, .safetensors, .pth, .h5
models.withHead(net, { classes: data.numClasses, seed: 0 }); // ...replaced by one for our classes
net.labels = [...data.classNames];
net.freeze('features');                                       // feature extraction: train the head only
net.preprocessing = { ...net.preprocessing, size: [64, 64] }; // small inputs: quick, even on a CPU

const history = await fit(net, train, {
  epochs: 5, batchSize: 8, optimizer: adam({ lr: 3e-3 }), validation: val,
  preprocess: fromModelPreprocessing(net.preprocessing),
  callbacks: [earlyStopping({ monitor: 'val_loss', patience: 2, restoreBestWeights: true })],
});
const last = history.epochs[history.epochs.length - 1];
console.log(`${history.epochs.length} epochs, validation accuracy ${(100 * last.valAccuracy).toFixed(0)}%`);

const [prediction] = await net.predict(preprocess(net, await loadImage(newImage)), { top: 2 });
console.log(`${newImage}: ${prediction.top.map((t) => `${t.label} ${(100 * t.probability).toFixed(1)}%`).join(', ')}`);
await saveSafetensors(net, out, { metadata: { classes: JSON.stringify(data.classNames) } });
console.log(`saved ${out}`);
gpu.destroy();
