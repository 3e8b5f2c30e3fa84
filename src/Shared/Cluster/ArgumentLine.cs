using System.Text;

namespace KubeDind.Cluster;

/// <summary>
/// Splits an argument line (k3s arguments given as one string, as a CI variable holds them) the way a shell would for
/// simple cases: white space separates, double quotes group, so a value with spaces stays whole. Every front end splits
/// with this one.
/// </summary>
public static class ArgumentLine
{
    public static IReadOnlyList<string> Split(string? line)
    {
        var parts = new List<string>();
        if (string.IsNullOrWhiteSpace(line))
        {
            return parts;
        }

        var current = new StringBuilder();
        var quoted = false;
        var any = false;
        foreach (var c in line)
        {
            if (c == '"')
            {
                quoted = !quoted;
                any = true;
            }
            else if (char.IsWhiteSpace(c) && !quoted)
            {
                if (any)
                {
                    parts.Add(current.ToString());
                    current.Clear();
                    any = false;
                }
            }
            else
            {
                current.Append(c);
                any = true;
            }
        }

        if (any)
        {
            parts.Add(current.ToString());
        }

        return parts;
    }

    /// <summary>
    /// k3s server arguments as a front end receives them: one or more values (a CI variable often holds them all in
    /// one), each split as <see cref="Split"/> splits it, so <c>"--disable=traefik --kubelet-arg=v=2"</c> is two
    /// arguments and a double-quoted value with spaces stays whole. An argument written without dashes
    /// (<c>disable=traefik</c>, as Nuke's command line needs, which reads a value starting with '-' as the next
    /// parameter) gets <c>--</c> put back, unless it follows a flag written with dashes and without '=', whose value it
    /// is (<c>--disable traefik</c>). Every front end parses k3s arguments with this one.
    /// </summary>
    public static IReadOnlyList<string> K3sArguments(IEnumerable<string?>? values)
    {
        var arguments = new List<string>();
        var previousTakesValue = false;
        foreach (var part in (values ?? []).SelectMany(Split))
        {
            var dashed = part.StartsWith('-');
            arguments.Add(dashed || previousTakesValue ? part : "--" + part);
            previousTakesValue = dashed && !part.Contains('=', StringComparison.Ordinal);
        }

        return arguments;
    }
}
