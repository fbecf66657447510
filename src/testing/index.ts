// The testing entry (Node only): what Graft's own suite uses to get WebGPU in headless Chrome on any
// machine, for a user who drives their own page with puppeteer the same way.
export { type FoundBrowser, launchBrowser, renderSvgs, resolveBrowser, webgpuArgs } from './browser.ts';
