namespace KubeDind.Tests.Docs;

/// <summary>
/// The documentation stays true: every relative link in README.md and docs/ resolves (to a file, and to a heading where
/// it names an anchor), and every code block that names its source (<c>&lt;!-- snippet: FILE#REGION --&gt;</c> on the
/// line before it) is exactly that region of a file CI compiles or runs.
/// </summary>
public sealed class DocumentationTests
{
    private const int ReadmeMaxLines = 200;
    private const int ReadmeSnippetMaxLines = 25;

    /// <summary>Where a snippet may come from, and what runs it in CI (each page says so beside its snippet).</summary>
    private static readonly (string Prefix, string RunBy)[] SnippetSources =
    [
        ("examples/cake/", "./build.sh --target=SystemTest"),
        ("examples/nuke/", "./build.sh --target=SystemTest --front-end=nuke, and compiled by ./build.sh --target=Build"),
        ("examples/app.Tests/", "./build.sh --target=Test"),
        ("tests/", "./build.sh --target=Test"),
    ];

    private readonly DocumentationSet _docs = DocumentationSet.FromRepository();

    [Fact]
    public void Every_relative_link_resolves_to_a_file_and_heading()
    {
        var broken = new List<string>();
        foreach (var page in _docs.Pages)
        {
            foreach (var (line, target) in _docs.RelativeLinks(page))
            {
                var problem = Check(page, target);
                if (problem is not null)
                {
                    broken.Add($"{page}:{line}: link '{target}' {problem}");
                }
            }
        }

        Assert.True(broken.Count == 0, "broken links; fix the target or the page:\n" + string.Join('\n', broken));
    }

    [Fact]
    public void Every_snippet_is_the_region_of_a_file_CI_compiles_or_runs()
    {
        var wrong = new List<string>();
        foreach (var block in _docs.Pages.SelectMany(_docs.CodeBlocks).Where(b => b.SourceFile is not null))
        {
            var problem = Compare(block);
            if (problem is not null)
            {
                wrong.Add($"{block.Where}: snippet {block.SourceFile}#{block.Region} {problem}");
            }
        }

        Assert.True(wrong.Count == 0, "snippets that differ from their source:\n" + string.Join('\n', wrong));
    }

    [Fact]
    public void The_README_is_a_quick_start_whose_code_all_runs()
    {
        var lines = File.ReadAllLines(Path.Combine(_docs.Root, "README.md")).Length;
        Assert.True(lines <= ReadmeMaxLines, $"README.md has {lines} lines; keep it at most {ReadmeMaxLines} and move details to a page in docs/.");

        var problems = _docs.CodeBlocks("README.md")
            .Where(b => b.Language == "csharp")
            .Select(b => b.SourceFile is null
                ? $"{b.Where}: a C# block without a snippet marker; take it from code CI runs (<!-- snippet: FILE#REGION -->)."
                : b.Text.Split('\n').Length > ReadmeSnippetMaxLines
                    ? $"{b.Where}: snippet {b.SourceFile}#{b.Region} has {b.Text.Split('\n').Length} lines; keep it at most {ReadmeSnippetMaxLines}."
                    : null)
            .OfType<string>()
            .ToList();
        Assert.True(problems.Count == 0, string.Join('\n', problems));
    }

    private string? Check(string page, string target)
    {
        var hash = target.IndexOf('#', StringComparison.Ordinal);
        var path = Uri.UnescapeDataString(hash < 0 ? target : target[..hash]);
        var anchor = hash < 0 ? null : target[(hash + 1)..];
        var pageDirectory = Path.GetDirectoryName(Path.Combine(_docs.Root, page))!;
        var full = path.Length == 0 ? Path.Combine(_docs.Root, page) : Path.GetFullPath(Path.Combine(pageDirectory, path));
        if (!full.StartsWith(_docs.Root, StringComparison.Ordinal))
        {
            return "points outside the repository; link to a file in it.";
        }

        if (!File.Exists(full) && !Directory.Exists(full))
        {
            return $"names no file or directory ({Path.GetRelativePath(_docs.Root, full)}).";
        }

        if (anchor is null || !full.EndsWith(".md", StringComparison.Ordinal))
        {
            return null;
        }

        var anchors = _docs.Anchors(Path.GetRelativePath(_docs.Root, full).Replace('\\', '/'));
        return anchors.Contains(anchor) ? null : $"names no heading '#{anchor}'; its headings: {string.Join(", ", anchors.Order(StringComparer.Ordinal))}.";
    }

    private string? Compare(DocumentationSet.CodeBlock block)
    {
        var file = block.SourceFile!;
        if (!SnippetSources.Any(s => file.StartsWith(s.Prefix, StringComparison.Ordinal)))
        {
            return $"comes from a file CI neither compiles nor runs; take it from one under {string.Join(", ", SnippetSources.Select(s => s.Prefix))}.";
        }

        if (!File.Exists(Path.Combine(_docs.Root, file)))
        {
            return "names no file; give the path from the repository root.";
        }

        var region = _docs.Region(file, block.Region!);
        if (region is null)
        {
            return $"names no region; mark it in {file} with '// snippet: {block.Region}' and '// end snippet: {block.Region}'.";
        }

        if (region == block.Text)
        {
            return null;
        }

        var expected = region.Split('\n');
        var actual = block.Text.Split('\n');
        var line = Enumerable.Range(0, Math.Max(expected.Length, actual.Length))
            .First(i => i >= expected.Length || i >= actual.Length || expected[i] != actual[i]);
        return $"differs from the source at its line {line + 1}: the source has '{(line < expected.Length ? expected[line] : "(end)")}', "
            + $"the page '{(line < actual.Length ? actual[line] : "(end)")}'; copy the region into the page.";
    }
}
