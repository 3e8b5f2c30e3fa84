using System.Globalization;
using ScottPlot;

namespace KubeDind.BuildTool;

/// <summary>The ratios as a horizontal bar chart, a line at 1× (parity with the peer).</summary>
internal static class BenchChart
{
    public static void Write(string path, IReadOnlyList<BenchRatio> ratios, string title)
    {
        var plot = new Plot();
        plot.Title(title);
        var shown = ratios.Where(r => !double.IsNaN(r.Ratio) && !double.IsInfinity(r.Ratio)).Reverse().ToList();
        if (shown.Count == 0)
        {
            plot.Add.Annotation("no ratio could be measured (see results.md)");
        }
        else
        {
            var bars = shown.Select((r, i) => new Bar
            {
                Position = i,
                Value = r.Ratio,
                Label = r.Ratio.ToString("0.00", CultureInfo.InvariantCulture) + "×",
                FillColor = r.Ratio <= 1 ? Colors.SeaGreen : Colors.IndianRed,
                Orientation = Orientation.Horizontal,
            }).ToList();
            var barPlot = plot.Add.Bars(bars);
            barPlot.ValueLabelStyle.FontSize = 14;
            plot.Axes.Left.SetTicks([.. shown.Select((_, i) => (double)i)], [.. shown.Select(r => $"{r.Measure} / {r.Peer}")]);
            plot.Axes.Left.MajorTickStyle.Length = 0;
            var parity = plot.Add.VerticalLine(1);
            parity.LinePattern = LinePattern.Dashed;
            parity.Color = Colors.Gray;
            plot.Axes.SetLimitsX(0, Math.Max(1.2, shown.Max(r => r.Ratio) * 1.2));
            plot.XLabel("ratio (KubeDind / peer)");
        }

        plot.SavePng(path, 1400, 120 + (60 * Math.Max(3, shown.Count)));
    }
}
