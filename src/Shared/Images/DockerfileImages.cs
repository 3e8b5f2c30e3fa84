using System.Text;
using System.Text.RegularExpressions;

namespace KubeDind.Images;

/// <summary>
/// The images a Dockerfile builds on, as the engine's classic builder reads them: each <c>FROM</c> and
/// <c>COPY --from</c> that names an image rather than an earlier stage (or <c>scratch</c>), with the build arguments
/// declared before the first <c>FROM</c> filled in. <see cref="Find"/> answers null when the Dockerfile's result
/// may change without the context, the arguments or those images changing (<c>ADD</c> of a URL), or names something
/// this reading cannot pin down (a parser directive that changes the escape character, a variable it does not know).
/// </summary>
/// <remarks>
/// Hand-written: no maintained .NET library parses Dockerfiles, and only these few instructions matter here.
/// </remarks>
internal static partial class DockerfileImages
{
    /// <param name="dockerfile">The Dockerfile's text.</param>
    /// <param name="buildArgs">The build arguments the build is given (they override the Dockerfile's defaults).</param>
    public static IReadOnlyList<string>? Find(string dockerfile, IReadOnlyDictionary<string, string> buildArgs)
    {
        ArgumentNullException.ThrowIfNull(dockerfile);
        ArgumentNullException.ThrowIfNull(buildArgs);
        var globals = new Dictionary<string, string>(StringComparer.Ordinal);
        var stages = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        var images = new List<string>();
        var seenFrom = false;
        foreach (var line in Instructions(dockerfile))
        {
            if (line is null)
            {
                return null;
            }

            var words = line.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
            var instruction = words[0].ToUpperInvariant();
            var arguments = words.Skip(1).ToList();
            switch (instruction)
            {
                case "ARG" when !seenFrom:
                    foreach (var declaration in arguments)
                    {
                        var (name, value) = declaration.Split('=', 2) is [var n, var v] ? (n, Unquote(v)) : (declaration, null);
                        globals[name] = buildArgs.TryGetValue(name, out var given) ? given : value ?? string.Empty;
                    }

                    break;
                case "FROM":
                    seenFrom = true;
                    var fromWords = arguments.Where(a => !a.StartsWith("--", StringComparison.Ordinal)).ToList();
                    if (fromWords.Count == 0 || Expand(fromWords[0], globals) is not { } image)
                    {
                        return null;
                    }

                    if (!image.Equals("scratch", StringComparison.OrdinalIgnoreCase) && !stages.Contains(image))
                    {
                        images.Add(image);
                    }

                    if (fromWords.Count >= 3 && fromWords[1].Equals("AS", StringComparison.OrdinalIgnoreCase))
                    {
                        stages.Add(fromWords[2]);
                    }

                    break;
                case "COPY" or "ADD":
                    if (instruction == "ADD" && arguments.Any(a => a.StartsWith("http://", StringComparison.OrdinalIgnoreCase) || a.StartsWith("https://", StringComparison.OrdinalIgnoreCase)))
                    {
                        return null;
                    }

                    if (arguments.FirstOrDefault(a => a.StartsWith("--from=", StringComparison.OrdinalIgnoreCase)) is { } from)
                    {
                        var source = from["--from=".Length..];
                        if (source.Contains('$', StringComparison.Ordinal))
                        {
                            return null;
                        }

                        if (!stages.Contains(source) && !source.All(char.IsAsciiDigit))
                        {
                            images.Add(source);
                        }
                    }

                    break;
            }
        }

        return seenFrom ? images.Distinct(StringComparer.Ordinal).ToList() : null;
    }

    /// <summary>The instructions, continuation lines joined and comments dropped; a null entry for a parser directive that changes how lines read.</summary>
    private static IEnumerable<string?> Instructions(string dockerfile)
    {
        var lines = dockerfile.Replace("\r\n", "\n", StringComparison.Ordinal).Split('\n');
        var current = new StringBuilder();
        var directives = true;
        foreach (var raw in lines)
        {
            var line = raw.Trim();
            if (line.StartsWith('#'))
            {
                if (directives && EscapeDirective().IsMatch(line))
                {
                    yield return null;
                    yield break;
                }

                continue;
            }

            directives = false;
            if (line.EndsWith('\\'))
            {
                current.Append(line.AsSpan(0, line.Length - 1)).Append(' ');
                continue;
            }

            current.Append(line);
            if (current.ToString().Trim() is { Length: > 0 } instruction)
            {
                yield return instruction;
            }

            current.Clear();
        }

        if (current.ToString().Trim() is { Length: > 0 } last)
        {
            yield return last;
        }
    }

    /// <summary>$NAME, ${NAME}, ${NAME:-word} and ${NAME:+word} from <paramref name="variables"/>; null for any other.</summary>
    private static string? Expand(string text, IReadOnlyDictionary<string, string> variables)
    {
        var unknown = false;
        var expanded = Variable().Replace(text, match =>
        {
            var name = match.Groups["braced"].Success ? match.Groups["braced"].Value : match.Groups["bare"].Value;
            var known = variables.TryGetValue(name, out var value);
            value ??= string.Empty;
            if (match.Groups["op"].Success)
            {
                var word = match.Groups["word"].Value;
                return match.Groups["op"].Value == ":-" ? (value.Length > 0 ? value : word) : (value.Length > 0 ? word : string.Empty);
            }

            unknown |= !known;
            return value;
        });
        return unknown || expanded.Length == 0 ? null : expanded;
    }

    private static string Unquote(string value) =>
        value.Length >= 2 && (value[0] == '"' || value[0] == '\'') && value[^1] == value[0] ? value[1..^1] : value;

    [GeneratedRegex(@"^#\s*escape\s*=", RegexOptions.IgnoreCase)]
    private static partial Regex EscapeDirective();

    [GeneratedRegex(@"\$(?:\{(?<braced>[A-Za-z_][A-Za-z0-9_]*)(?:(?<op>:-|:\+)(?<word>[^}]*))?\}|(?<bare>[A-Za-z_][A-Za-z0-9_]*))")]
    private static partial Regex Variable();
}
