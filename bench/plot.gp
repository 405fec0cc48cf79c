# Latency distributions for bench/suite.sh: the 64-byte ping-pong of every pair, as a CDF (left)
# and its tail (right: the fraction of round trips at least that slow, log scale), both against
# the round-trip time on a log axis.
#
#   gnuplot -e "files='a.dat b.dat'; titles='mem xdp'; out='latency.png'" bench/plot.gp
#
# Optional: colors='#rrggbb ...' and dashes='1 2 ...' (one word per file; the suite gives a link
# and its floor the same colour, the floor dashed), heading='...'.
#
# Each .dat file has three columns: round trip in ns, fraction of samples <= it, fraction >= it
# (bench/suite.sh writes them from the --samples files, thinned to a few thousand points).
if (!exists("heading")) heading = "64-byte ping-pong round trips"
if (!exists("colors")) colors = "#9400d3 #009e73 #56b4e9 #e69f00 #0072b2 #e51e10 #000000 #808080 #f0e442 #cc79a7"
if (!exists("dashes")) dashes = "1 1 1 1 1 1 1 1 1 1"
set terminal pngcairo size 1500,620 font ",10"
set output out
set multiplot layout 1,2 title heading noenhanced
set logscale x 10
set format x "%g"
set xlabel "round trip (µs)"
set grid xtics ytics mxtics
unset key
set ylabel "fraction of round trips <= x"
set yrange [0:1]
plot for [i=1:words(files)] word(files, i) using ($1 / 1000):2 with lines lw 2 \
    lc rgb word(colors, i) dt int(word(dashes, i)) title word(titles, i)
set logscale y 10
set format y "10^{%L}"
set yrange [*:1]
set ylabel "fraction of round trips >= x (the tail)"
set key right top noenhanced box opaque
plot for [i=1:words(files)] word(files, i) using ($1 / 1000):3 with lines lw 2 \
    lc rgb word(colors, i) dt int(word(dashes, i)) title word(titles, i)
unset multiplot
