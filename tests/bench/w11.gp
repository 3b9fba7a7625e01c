# w11.gp - W11's chart: spool's own CPU per task against the worker count.
#
#   gnuplot -e "datafile='out/w11.dat'; outfile='w11.png'" w11.gp
#
# One point per -j: the median over rounds, the bar its range; crosses mark
# the targets (a point at or below its cross meets it).  Both axes are
# logarithmic: -j runs from 2 to 1000.

if (!exists("datafile")) datafile = 'out/w11.dat'
if (!exists("outfile")) outfile = 'w11.png'
if (!exists("note")) note = ''

if (strstrt(GPVAL_TERMINALS, "pngcairo") > 0) {
	set terminal pngcairo size 800,500 font "sans,11" noenhanced
} else {
	set terminal png size 800,500 noenhanced
}
set output outfile

stats datafile using 4 nooutput
top = STATS_max > 1.5 ? STATS_max : 1.5

set label 10 "W11: spool's own CPU per task (--stats cpu_s / tasks), cat, -k" \
	at screen 0.5, screen 0.965 center
if (strlen(note) > 0) set label 11 note at screen 0.5, screen 0.925 center
set tmargin 4
set logscale x 2
set logscale y
set xrange [1.4:1400]
set yrange [*:top * 2]
set xtics nomirror (2, 16, 64, 256, 1000)
set ytics nomirror
set mytics 10
set xlabel "workers (-j)"
set ylabel "spool's CPU per task (us)"
set grid xtics ytics
set border 3
set key top left box opaque

plot datafile using 1:2:3:4 with yerrorlines lw 2 pt 7 ps 1.2 \
		lc rgb "#1f77b4" title "median over rounds (bar: range)", \
	'' using 1:2:(sprintf("%.2f", $2)) with labels offset 0, 1.2 \
		notitle, \
	'' using 1:5 with points pt 2 ps 2.5 lw 3 lc rgb "#d62728" \
		title "target"
