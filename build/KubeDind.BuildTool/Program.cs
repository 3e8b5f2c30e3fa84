using KubeDind;
using KubeDind.Docker;
using KubeDind.Logging;

// Usage: KubeDind.BuildTool <command> [options]
//   base-image                     make sure the Debian base image exists (build it offline if needed)
var log = new ConsoleKubeDindLog(Environment.GetEnvironmentVariable("KUBEDIND_VERBOSE") == "1" ? KubeDindLogLevel.Debug : KubeDindLogLevel.Information);
using var cancel = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    cancel.Cancel();
};

try
{
    var command = args.Length > 0 ? args[0] : string.Empty;
    using var docker = await DockerEngine.ConnectAsync(cancellationToken: cancel.Token);
    switch (command)
    {
        case "base-image":
            Console.WriteLine(await new BaseImage(docker, log).EnsureAsync(cancel.Token));
            return 0;
        default:
            Console.Error.WriteLine($"error: unknown command '{command}'; use one of: base-image");
            return 2;
    }
}
catch (KubeDindException ex)
{
    Console.Error.WriteLine($"error: {ex.Message}");
    if (ex.Details is not null)
    {
        Console.Error.WriteLine(ex.Details);
    }

    return 1;
}
