# ratios.gp - chart of the bench figures against their targets.
#
#   gnuplot -e "datafile='out/ratios.dat'; outfile='ratios.png'" ratios.gp
#
# One horizontal bar per figure: the share of its target used (value /
# target for "<=" targets, target / value for ">=" ones), on a log scale.
# A bar that ends left of the dashed line at 1 meets its target (green);
# red misses it.  Each bar's label gives the figure and its target.

if (!exists("datafile")) datafile = 'out/ratios.dat'
if (!exists("outfile")) outfile = 'ratios.png'
if (!exists("note")) note = ''

if (strstrt(GPVAL_TERMINALS, "pngcairo") > 0) {
	set terminal pngcairo size 1100,520 font "sans,11" noenhanced
} else {
	set terminal png size 1100,520 noenhanced
}
set output outfile

stats datafile using 2 nooutput
n = STATS_records
lo = STATS_min < 0.1 ? 10**floor(log10(STATS_min / 1.5)) : 0.1
hi = STATS_max > 3 ? 10**ceil(log10(STATS_max * 1.5)) : 3

# A label centred on the whole image: a long title would be centred on the
# plot area, right of the tic labels, and cut off.
set label 10 "spool benchmarks against their targets: a bar ending left of the dashed line meets its target" \
	at screen 0.5, screen 0.965 center
if (strlen(note) > 0) set label 11 note at screen 0.5, screen 0.925 center
set tmargin 4
set logscale x
set xrange [lo:hi]
set yrange [-n + 0.4:0.6]
set xlabel "value / target  (for >= targets: target / value)"
set grid xtics
set key off
set ytics nomirror scale 0
set xtics nomirror (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100)
set border 3
set style fill solid 0.85 border -1
set arrow 1 from 1, graph 0 to 1, graph 1 nohead dashtype 2 lw 2 lc rgb "#333333" front

plot datafile using (lo):(-$0):(lo):2:(-$0 - 0.32):(-$0 + 0.32): \
	($3 == 1 ? 0x2ca02c : 0xd62728): \
	ytic(sprintf("%s: %s", strcol(1), strcol(4))) \
	with boxxyerror lc rgb variable
