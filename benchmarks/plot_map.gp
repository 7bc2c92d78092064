# SPDX-License-Identifier: LGPL-2.1-or-later
# plot_map.gp: map throughput (pages per second against run length) from the benchmark table.
#
#   gnuplot -e "tsv='benchmarks/results/latest.tsv'; out='benchmarks/results/map_throughput.svg'" \
#           benchmarks/plot_map.gp
#
# Reads the map_run_N and unmap_run_N rows (ns per page for ours, floor and naive) and draws
# pages per second = 1e9 / (ns per page), one panel for mapping and one for unmapping.  An out
# ending in .png gets a PNG (cairo), anything else an SVG.

if (out[strlen( out ) - 3:*] eq ".png") {
    set terminal pngcairo size 1200,520 enhanced font "Helvetica,11" background rgb "white"
} else {
    set terminal svg size 1200,520 dynamic enhanced font "Helvetica,13" background rgb "white"
}
set output out
set datafile separator "\t"
set datafile missing "-"

# the rows whose case starts with prefix, and the run length in such a case's name
rows(prefix) = sprintf( "< grep '^%s' '%s'", prefix, tsv )
run(prefix) = real( strcol(1)[strlen( prefix ) + 1:*] )

set logscale xy
set xrange [0.7:6000]
set yrange [1e4:2e7]
set xtics ("1" 1, "16" 16, "256" 256, "4096" 4096)
set format y "10^{%L}"
set grid xtics ytics mytics lc rgb "#dddddd"
set key bottom right box opaque spacing 1.2 noenhanced
set xlabel "run length (pages of 4 KiB, one call)"
set ylabel "pages per second (higher is better)"
set style line 1 lc rgb "#1f77b4" lw 2.5 pt 7 ps 1.2
set style line 2 lc rgb "#2ca02c" lw 2 dt 2 pt 5 ps 1.1
set style line 3 lc rgb "#d62728" lw 2 pt 9 ps 1.3

set multiplot layout 1,2 title "{/:Bold MapUserPhysicalPages throughput: ours, the bare system calls (floor) and the naive design}\n(medians of one run of make bench)"
set title "map a contiguous run"
plot rows( "map_run_" ) using (run( "map_run_" )):(1e9 / $3) with linespoints ls 1 title "ours (libawe)", \
     ''                  using (run( "map_run_" )):(1e9 / $4) with linespoints ls 2 title "floor: one mmap(MAP_POPULATE) per run", \
     ''                  using (run( "map_run_" )):(1e9 / $5) with linespoints ls 3 title "naive: round trip + mmap per page + fault"
set title "unmap it again (MapUserPhysicalPages with a NULL array)"
plot rows( "unmap_run_" ) using (run( "unmap_run_" )):(1e9 / $3) with linespoints ls 1 title "ours (libawe)", \
     ''                    using (run( "unmap_run_" )):(1e9 / $4) with linespoints ls 2 title "floor: one PROT_NONE overlay per run", \
     ''                    using (run( "unmap_run_" )):(1e9 / $5) with linespoints ls 3 title "naive: round trip + overlay per page"
unset multiplot
