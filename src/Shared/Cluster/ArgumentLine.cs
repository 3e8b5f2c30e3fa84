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
}
