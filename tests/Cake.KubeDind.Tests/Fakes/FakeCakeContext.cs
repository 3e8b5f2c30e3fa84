using Cake.Core;
using Cake.Core.Configuration;
using Cake.Core.Diagnostics;
using Cake.Core.IO;
using Cake.Core.Tooling;

namespace Cake.KubeDind.Tests.Fakes;

/// <summary>A hand-written fake Cake context: a recording log and an environment; everything else is unused by the aliases.</summary>
public sealed class FakeCakeContext : ICakeContext
{
    public FakeCakeContext(string workingDirectory = "/work/fake", IDictionary<string, string>? environment = null)
    {
        Environment = new FakeCakeEnvironment(new DirectoryPath(workingDirectory), environment ?? new Dictionary<string, string>());
    }

    public FakeCakeLog FakeLog { get; } = new();

    public ICakeLog Log => FakeLog;

    public ICakeEnvironment Environment { get; }

    public IFileSystem FileSystem => throw new NotSupportedException("the aliases must not use Cake's file system");

    public IGlobber Globber => throw new NotSupportedException();

    public ICakeArguments Arguments => throw new NotSupportedException();

    public IProcessRunner ProcessRunner => throw new NotSupportedException("the aliases must not start processes");

    public IRegistry Registry => throw new NotSupportedException();

    public IToolLocator Tools => throw new NotSupportedException();

    public ICakeDataResolver Data => throw new NotSupportedException();

    public ICakeConfiguration Configuration => throw new NotSupportedException();

    public IToolInstaller ToolInstaller => throw new NotSupportedException();

    public IServiceProvider ServiceProvider => throw new NotSupportedException();
}

public sealed class FakeCakeLog : ICakeLog
{
    private readonly List<(Verbosity Verbosity, LogLevel Level, string Message)> _entries = [];

    public Verbosity Verbosity { get; set; } = Verbosity.Diagnostic;

    public IReadOnlyList<(Verbosity Verbosity, LogLevel Level, string Message)> Entries
    {
        get
        {
            lock (_entries)
            {
                return [.. _entries];
            }
        }
    }

    public void Write(Verbosity verbosity, LogLevel level, string format, params object[] args)
    {
        lock (_entries)
        {
            _entries.Add((verbosity, level, args.Length == 0 ? format : string.Format(System.Globalization.CultureInfo.InvariantCulture, format, args)));
        }
    }
}

public sealed class FakeCakeEnvironment : ICakeEnvironment
{
    private readonly IDictionary<string, string> _variables;

    public FakeCakeEnvironment(DirectoryPath workingDirectory, IDictionary<string, string> variables)
    {
        WorkingDirectory = workingDirectory;
        _variables = variables;
    }

    public DirectoryPath WorkingDirectory { get; set; }

    public DirectoryPath UserHomeDirectory => new("/root");

    public DirectoryPath ApplicationRoot => WorkingDirectory;

    public ICakePlatform Platform => throw new NotSupportedException();

    public ICakeRuntime Runtime => throw new NotSupportedException();

    public DirectoryPath GetSpecialPath(SpecialPath path) => throw new NotSupportedException();

    public string GetEnvironmentVariable(string variable) => _variables.TryGetValue(variable, out var value) ? value : null!;

    public IDictionary<string, string> GetEnvironmentVariables() => new Dictionary<string, string>(_variables);
}
