using System.Globalization;
using System.Text;
using k8s.Models;

namespace KubeDind.Diagnostics;

/// <summary>
/// The events of a diagnostics snapshot drawn as inline SVG: one row per pod, a time axis, a mark per event
/// (scheduled, pulled, started, crashed...) and a bar over the span a repeated event covered. Nothing but SVG:
/// no script is needed to read it, and each mark's title says the event in full.
/// </summary>
internal static class ReportTimeline
{
    private const int LabelWidth = 280;
    private const int PlotWidth = 860;
    private const int RowHeight = 22;
    private const int AxisHeight = 34;

    /// <summary>More rows than this would make the picture unreadable; the events table below still lists every event.</summary>
    internal const int MaxRows = 60;

    /// <summary>The phases a mark's colour tells apart, in the legend's order.</summary>
    private static readonly (string Phase, string Colour, string[] Reasons)[] Phases =
    [
        ("scheduled", "#3b6fd4", ["Scheduled", "FailedScheduling"]),
        ("pulled", "#8a55c9", ["Pulling", "Pulled"]),
        ("started", "#2e9a4d", ["Created", "Started", "SuccessfulCreate", "ScalingReplicaSet"]),
        ("crashed / failed", "#d23c3c", ["Failed", "BackOff", "ErrImagePull", "ImagePullBackOff", "ErrImageNeverPull", "Killing", "OOMKilling", "Unhealthy", "FailedMount", "FailedCreate"]),
    ];

    private const string OtherColour = "#8c8c8c";

    public static void Render(StringBuilder html, IReadOnlyList<Corev1Event> events, Func<string, string> text)
    {
        var podEvents = events.Where(e => e.InvolvedObject?.Kind == "Pod" && Start(e) is not null).ToList();
        if (podEvents.Count == 0)
        {
            html.Append("<p class=\"none\">No pod events to draw.</p>\n");
            return;
        }

        var rows = podEvents.GroupBy(e => $"{e.InvolvedObject.NamespaceProperty}/{e.InvolvedObject.Name}", StringComparer.Ordinal)
            .OrderBy(g => g.Min(e => Start(e)!.Value))
            .ToList();
        var omitted = rows.Count - MaxRows;
        rows = rows.Take(MaxRows).ToList();
        var drawn = rows.SelectMany(g => g).ToList();
        var first = drawn.Min(e => Start(e)!.Value);
        var last = drawn.Max(e => End(e)!.Value);
        var span = Math.Max((last - first).TotalSeconds, 1);
        double X(DateTimeOffset t) => LabelWidth + ((t - first).TotalSeconds / span * PlotWidth);

        var height = AxisHeight + (rows.Count * RowHeight) + 8;
        var width = LabelWidth + PlotWidth + 20;
        html.Append(CultureInfo.InvariantCulture, $"<svg class=\"timeline\" role=\"img\" aria-label=\"Timeline of the cluster's pod events\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\">\n");
        html.Append(CultureInfo.InvariantCulture, $"<title>Pod events from {first:HH:mm:ss} to {last:HH:mm:ss} UTC</title>\n");

        // The time axis: about six ticks on whole seconds, labelled with the UTC time of day.
        html.Append(CultureInfo.InvariantCulture, $"<line class=\"axis\" x1=\"{LabelWidth}\" y1=\"{AxisHeight - 6}\" x2=\"{LabelWidth + PlotWidth}\" y2=\"{AxisHeight - 6}\" stroke=\"#444\"/>\n");
        var step = TickStep(span);
        for (var s = 0.0; s <= span + 0.001; s += step)
        {
            var x = LabelWidth + (s / span * PlotWidth);
            html.Append(CultureInfo.InvariantCulture, $"<line x1=\"{x:0.#}\" y1=\"{AxisHeight - 10}\" x2=\"{x:0.#}\" y2=\"{height}\" stroke=\"#ddd\"/>");
            html.Append(CultureInfo.InvariantCulture, $"<text class=\"tick\" x=\"{x:0.#}\" y=\"{AxisHeight - 14}\" text-anchor=\"middle\" font-size=\"11\">{first.AddSeconds(s):HH:mm:ss}</text>\n");
        }

        for (var i = 0; i < rows.Count; i++)
        {
            var y = AxisHeight + (i * RowHeight) + (RowHeight / 2);
            var label = rows[i].Key;
            html.Append(CultureInfo.InvariantCulture, $"<g class=\"row\"><text x=\"4\" y=\"{y + 4}\" font-size=\"12\">{text(Shorten(label, 40))}<title>{text(label)}</title></text>");
            html.Append(CultureInfo.InvariantCulture, $"<line x1=\"{LabelWidth}\" y1=\"{y}\" x2=\"{LabelWidth + PlotWidth}\" y2=\"{y}\" stroke=\"#eee\"/>");
            foreach (var e in rows[i].OrderBy(e => Start(e)))
            {
                var colour = ColourOf(e.Reason);
                var x1 = X(Start(e)!.Value);
                var x2 = X(End(e)!.Value);
                var title = text($"{Start(e):HH:mm:ss}{(x2 - x1 > 1 ? $"–{End(e):HH:mm:ss}" : string.Empty)} {e.Reason}{(e.Count > 1 ? $" (x{e.Count})" : string.Empty)}: {e.Message}");
                if (x2 - x1 > 1)
                {
                    html.Append(CultureInfo.InvariantCulture, $"<line class=\"repeat\" x1=\"{x1:0.#}\" y1=\"{y}\" x2=\"{x2:0.#}\" y2=\"{y}\" stroke=\"{colour}\" stroke-width=\"4\" stroke-opacity=\"0.45\"><title>{title}</title></line>");
                }

                html.Append(CultureInfo.InvariantCulture, $"<circle class=\"event\" data-reason=\"{text(e.Reason ?? string.Empty)}\" cx=\"{x1:0.#}\" cy=\"{y}\" r=\"5\" fill=\"{colour}\"><title>{title}</title></circle>");
            }

            html.Append("</g>\n");
        }

        html.Append("</svg>\n<p class=\"legend\">");
        foreach (var (phase, colour, reasons) in Phases)
        {
            html.Append(CultureInfo.InvariantCulture, $"<span><i style=\"background:{colour}\"></i>{phase} ({string.Join(", ", reasons.Take(4))}{(reasons.Length > 4 ? ", …" : string.Empty)})</span> ");
        }

        html.Append(CultureInfo.InvariantCulture, $"<span><i style=\"background:{OtherColour}\"></i>other</span>; a bar: an event repeated over that span. Times in UTC.");
        if (omitted > 0)
        {
            html.Append(CultureInfo.InvariantCulture, $" {omitted} more pods with events are not drawn (see the events below).");
        }

        html.Append("</p>\n");
    }

    internal static DateTimeOffset? Start(Corev1Event e) => Utc(e.FirstTimestamp ?? e.EventTime ?? e.LastTimestamp ?? e.Metadata?.CreationTimestamp);

    internal static DateTimeOffset? End(Corev1Event e) => Utc(e.LastTimestamp ?? e.Series?.LastObservedTime ?? e.EventTime ?? e.FirstTimestamp ?? e.Metadata?.CreationTimestamp);

    private static DateTimeOffset? Utc(DateTime? time) => time is { } t ? new DateTimeOffset(DateTime.SpecifyKind(t, DateTimeKind.Utc)) : null;

    private static string ColourOf(string? reason) =>
        Phases.FirstOrDefault(p => p.Reasons.Contains(reason, StringComparer.Ordinal)).Colour ?? OtherColour;

    private static double TickStep(double span)
    {
        foreach (var step in new double[] { 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600 })
        {
            if (span / step <= 8)
            {
                return step;
            }
        }

        return Math.Ceiling(span / 8 / 3600) * 3600;
    }

    private static string Shorten(string label, int max) => label.Length <= max ? label : "…" + label[^(max - 1)..];
}
