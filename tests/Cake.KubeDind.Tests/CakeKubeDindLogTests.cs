using Cake.Core.Diagnostics;
using Cake.KubeDind.Tests.Fakes;
using KubeDind.Logging;

namespace Cake.KubeDind.Tests;

public sealed class CakeKubeDindLogTests
{
    [Theory]
    [InlineData(KubeDindLogLevel.Debug, Verbosity.Diagnostic, LogLevel.Debug)]
    [InlineData(KubeDindLogLevel.Information, Verbosity.Normal, LogLevel.Information)]
    [InlineData(KubeDindLogLevel.Warning, Verbosity.Minimal, LogLevel.Warning)]
    [InlineData(KubeDindLogLevel.Error, Verbosity.Quiet, LogLevel.Error)]
    public void Core_levels_map_to_Cake_verbosities(KubeDindLogLevel level, Verbosity verbosity, LogLevel cakeLevel)
    {
        var cake = new FakeCakeLog();

        new CakeKubeDindLog(cake).Write(level, "progress");

        Assert.Equal((verbosity, cakeLevel, "progress"), Assert.Single(cake.Entries));
    }

    [Fact]
    public void Braces_in_a_message_are_not_read_as_a_format()
    {
        var cake = new FakeCakeLog();

        new CakeKubeDindLog(cake).Info("{\"status\":\"Pulling\"} {0} {{");

        Assert.Equal("{\"status\":\"Pulling\"} {0} {{", Assert.Single(cake.Entries).Message);
    }
}
