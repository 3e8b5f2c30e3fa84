using System.Net;
using System.Text.RegularExpressions;
using Docker.DotNet;
using Docker.DotNet.Models;

namespace KubeDind.Docker;

/// <summary>Container facts and look-ups every step shares: the name rule, "inspect or null", the engine's port-conflict answer.</summary>
public static partial class DockerContainers
{
    /// <summary>True when <paramref name="name"/> is a name the engine accepts for a container or volume.</summary>
    public static bool IsValidName(string? name) => !string.IsNullOrWhiteSpace(name) && NameRule().IsMatch(name);

    /// <summary>Throws the one-line error for an invalid <paramref name="what"/> name (e.g. "cluster", "mirror").</summary>
    public static void ValidateName(string what, string? name)
    {
        if (!IsValidName(name))
        {
            throw new KubeDindException($"{what} name '{name}' is not a valid container name; use letters, digits, '.', '_' or '-', starting with a letter or digit.");
        }
    }

    /// <summary>The container called exactly <paramref name="name"/>, or null (an id prefix that happens to match does not count).</summary>
    public static async Task<ContainerInspectResponse?> FindByNameAsync(IDockerClient docker, string name, CancellationToken cancellationToken)
    {
        var container = await InspectOrNullAsync(docker, name, cancellationToken).ConfigureAwait(false);
        return container?.Name == "/" + name ? container : null;
    }

    /// <summary>The container <paramref name="nameOrId"/>, or null when the engine does not know it.</summary>
    public static async Task<ContainerInspectResponse?> InspectOrNullAsync(IDockerClient docker, string nameOrId, CancellationToken cancellationToken)
    {
        try
        {
            return await docker.Containers.InspectContainerAsync(nameOrId, cancellationToken).ConfigureAwait(false);
        }
        catch (DockerContainerNotFoundException)
        {
            return null;
        }
        catch (DockerApiException ex) when (ex.StatusCode == HttpStatusCode.NotFound)
        {
            return null;
        }
    }

    /// <summary>True when the engine refused to start a container because one of its host ports is taken.</summary>
    public static bool IsPortConflict(DockerApiException exception)
    {
        ArgumentNullException.ThrowIfNull(exception);

        // The engine answers a taken port with a plain 500 and the proxy's or the kernel's text (no error code in the
        // API): the text is all that tells it apart from other start failures.
        var text = exception.ResponseBody + "\n" + exception.Message;
        return text.Contains("port is already allocated", StringComparison.OrdinalIgnoreCase)
            || text.Contains("address already in use", StringComparison.OrdinalIgnoreCase);
    }

    [GeneratedRegex("^[a-zA-Z0-9][a-zA-Z0-9_.-]*$")]
    private static partial Regex NameRule();
}
