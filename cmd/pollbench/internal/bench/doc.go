// Package bench implements the pollbench command: it runs the bench.c
// workload (see internal/chain) on the selected backends and baselines in
// paired repeats, computes every row's ratio to the chosen baseline repeat
// by repeat, and writes the result as a pivot table with a verdict, CSV,
// JSON, Go benchmark format and, optionally, a plot.
package bench
