// Reporting: metrics, progress, comparison tables, learning curves, report folders, what freezing saves.
export { accuracy, argmaxRows, confusionMatrix, perClassAccuracy, formatConfusion } from './metrics.ts';
export { progressBar, formatEpoch, formatHistory } from './progress.ts';
export { compare, comparisonMarkdown, comparisonRow, bestEpoch, crossValidate, meanStd } from './compare.ts';
export type { Comparison, ComparisonRow, RunConfig, RunOutcome, CompareOptions, CrossValidation } from './compare.ts';
export { freezingCost, formatFreezingCost } from './freezing-cost.ts';
export type { FreezingCost, FreezingCostMode } from './freezing-cost.ts';
export { writeReport, markdownToHtml } from './report.ts';
export type { ReportOptions, ReportSection, SvgRenderer, WrittenReport } from './report.ts';
export { curveMarks, learningCurves, lineChartSvg } from './plot.ts';
export { confusionHeatmapSvg, imageGridSvg, type GridImage } from './figures.ts';
export { barLine, stepProgress, type StepProgress } from './progress.ts';
