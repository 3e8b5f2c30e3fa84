using System.Text.RegularExpressions;
using Markdig;
using Markdig.Extensions.AutoIdentifiers;
using Markdig.Renderers.Html;
using Markdig.Syntax;
using Markdig.Syntax.Inlines;

namespace KubeDind.Tests.Docs;

/// <summary>
/// README.md and docs/*.md read as GitHub renders them (Markdig with GitHub's heading identifiers and pipe tables):
/// their relative links, their headings' anchors, and the code blocks that name the source region they are taken from.
/// </summary>
internal sealed partial class DocumentationSet
{
    private static readonly MarkdownPipeline Pipeline = new MarkdownPipelineBuilder()
        .UsePipeTables()
        .UseAutoIdentifiers(AutoIdentifierOptions.GitHub)
        .Build();

    private readonly Dictionary<string, MarkdownDocument> _parsed = new(StringComparer.Ordinal);

    private DocumentationSet(string root) => Root = root;

    /// <summary>The repository's root directory (the one holding KubeDind.sln).</summary>
    public string Root { get; }

    /// <summary>README.md and every page in docs/, as paths relative to the root with '/' separators.</summary>
    public IReadOnlyList<string> Pages =>
    [
        "README.md",
        .. Directory.EnumerateFiles(Path.Combine(Root, "docs"), "*.md").Order(StringComparer.Ordinal).Select(p => "docs/" + Path.GetFileName(p)),
    ];

    public static DocumentationSet FromRepository() => new(TestRepository.Root);

    /// <summary>Every link of the page whose target is not a URL with a scheme (http:, mailto: ...).</summary>
    public IEnumerable<(int Line, string Target)> RelativeLinks(string page) =>
        Parse(page).Descendants<LinkInline>()
            .Where(l => l.Url is { Length: > 0 } url && !SchemePattern().IsMatch(url))
            .Select(l => (l.Line + 1, l.Url!));

    /// <summary>The anchors GitHub gives the page's headings.</summary>
    public IReadOnlySet<string> Anchors(string page) =>
        Parse(page).Descendants<HeadingBlock>().Select(h => h.GetAttributes().Id).OfType<string>().ToHashSet(StringComparer.Ordinal);

    /// <summary>Every fenced code block of the page, with the source region its marker comment names, if any.</summary>
    public IEnumerable<CodeBlock> CodeBlocks(string page)
    {
        foreach (var block in Parse(page).Descendants<FencedCodeBlock>())
        {
            var marker = block.Parent is { } parent && parent.IndexOf(block) is > 0 and var index && parent[index - 1] is HtmlBlock html
                ? SnippetMarkerPattern().Match(html.Lines.ToString())
                : Match.Empty;
            yield return new CodeBlock(
                page,
                block.Line + 1,
                block.Info ?? string.Empty,
                block.Lines.ToString().TrimEnd('\n', '\r'),
                marker.Success ? marker.Groups["file"].Value : null,
                marker.Success ? marker.Groups["region"].Value : null);
        }
    }

    /// <summary>
    /// The lines between <c>// snippet: NAME</c> and <c>// end snippet: NAME</c> in the file, without the indentation they
    /// share; null when the file has no such region.
    /// </summary>
    public string? Region(string file, string region)
    {
        var lines = File.ReadAllLines(Path.Combine(Root, file));
        var start = Array.FindIndex(lines, l => RegionStart(l) == region);
        var end = start < 0 ? -1 : Array.FindIndex(lines, start + 1, l => RegionEnd(l) == region);
        if (start < 0 || end < 0)
        {
            return null;
        }

        var body = lines[(start + 1)..end];
        var indent = body.Where(l => l.Trim().Length > 0).Select(l => l.Length - l.TrimStart().Length).DefaultIfEmpty(0).Min();
        return string.Join('\n', body.Select(l => l.Length >= indent ? l[indent..] : l.TrimStart()));
    }

    private static string? RegionStart(string line) => RegionStartPattern().Match(line) is { Success: true } m ? m.Groups[1].Value : null;

    private static string? RegionEnd(string line) => RegionEndPattern().Match(line) is { Success: true } m ? m.Groups[1].Value : null;

    private MarkdownDocument Parse(string page)
    {
        if (!_parsed.TryGetValue(page, out var document))
        {
            document = Markdown.Parse(File.ReadAllText(Path.Combine(Root, page)), Pipeline);
            _parsed[page] = document;
        }

        return document;
    }

    [GeneratedRegex(@"^[a-zA-Z][a-zA-Z0-9+.-]*:")]
    private static partial Regex SchemePattern();

    [GeneratedRegex(@"<!--\s*snippet:\s*(?<file>[^#\s]+)#(?<region>\S+)\s*-->")]
    private static partial Regex SnippetMarkerPattern();

    [GeneratedRegex(@"^\s*//\s*snippet:\s*(\S+)\s*$")]
    private static partial Regex RegionStartPattern();

    [GeneratedRegex(@"^\s*//\s*end snippet:\s*(\S+)\s*$")]
    private static partial Regex RegionEndPattern();

    /// <summary>A fenced code block; <see cref="SourceFile"/> and <see cref="Region"/> are set when a marker names its source.</summary>
    internal sealed record CodeBlock(string Page, int Line, string Language, string Text, string? SourceFile, string? Region)
    {
        public string Where => $"{Page}:{Line}";
    }
}
