using System.Text;

namespace Cake.KubeDind;

/// <summary>Splits an argument line the way a shell would for simple cases: white space separates, double quotes group.</summary>
internal static class CommandLine
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
