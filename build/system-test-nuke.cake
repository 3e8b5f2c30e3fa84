// The Nuke front end's part of SystemTest: `./build.sh --target=SystemTest --front-end=nuke` runs the
// example app's system test through examples/nuke (a Nuke build using the IKubeDind component).
// SystemTest calls RunNukeSystemTest when --front-end=nuke; SystemTestNuke runs it on its own.
// Where Nuke.Common cannot be restored, examples/nuke/build.sh prints one line saying so and this fails.

void RunNukeSystemTest(DirectoryPath repositoryRoot)
{
    var example = repositoryRoot.Combine("examples/nuke");
    var arguments = new ProcessArgumentBuilder()
        .AppendQuoted(example.CombineWithFilePath("build.sh").FullPath)
        .Append("--target").Append("SystemTest");
    if (HasArgument("k3s-binary"))
    {
        arguments.Append("--kubedind-k3s-binary").AppendQuoted(MakeAbsolute(File(Argument<string>("k3s-binary"))).FullPath);
    }

    if (HasArgument("keep-cluster"))
    {
        arguments.Append("--kubedind-keep-cluster");
    }

    var exit = StartProcess("bash", new ProcessSettings { Arguments = arguments, WorkingDirectory = example });
    if (exit != 0)
    {
        throw new CakeException($"SystemTest (--front-end=nuke) failed: examples/nuke/build.sh exited with {exit} (its reason is on the line above).");
    }
}

Task("SystemTestNuke")
    .Description("The example app's system test through the Nuke component (examples/nuke); fails with one line where Nuke.Common cannot be restored.")
    .IsDependentOn("Engine")
    .Does(() => RunNukeSystemTest(MakeAbsolute(Directory(".."))));
