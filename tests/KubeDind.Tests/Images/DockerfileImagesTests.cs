using KubeDind.Images;

namespace KubeDind.Tests.Images;

/// <summary>Which images a Dockerfile builds on, as BuildImage's skip of an unchanged build reads it.</summary>
public sealed class DockerfileImagesTests
{
    private static readonly Dictionary<string, string> NoArgs = [];

    [Fact]
    public void Stages_and_scratch_are_not_images_but_every_other_FROM_and_COPY_from_is()
    {
        const string Dockerfile = """
            # syntax=docker/dockerfile:1
            FROM --platform=linux/amd64 mcr.microsoft.com/dotnet/sdk:8.0 AS build
            RUN dotnet publish -o /out
            from scratch as empty
            FROM debian:bookworm-slim
            COPY --from=build /out /app
            COPY --from=0 /out /app2
            COPY --from=EMPTY / /
            COPY --from=busybox:1.36 \
                 /bin/busybox /busybox
            """;

        Assert.Equal(["mcr.microsoft.com/dotnet/sdk:8.0", "debian:bookworm-slim", "busybox:1.36"], DockerfileImages.Find(Dockerfile, NoArgs));
    }

    [Fact]
    public void Arguments_before_the_first_FROM_fill_it_in_and_given_ones_win()
    {
        const string Dockerfile = """
            ARG BASE_IMAGE=debian:bookworm-slim
            ARG TAG
            FROM ${BASE_IMAGE}
            FROM app:${TAG:-dev}
            FROM $BASE_IMAGE AS again
            """;

        Assert.Equal(["debian:bookworm-slim", "app:dev"], DockerfileImages.Find(Dockerfile, NoArgs));
        Assert.Equal(["kubedind/base:bookworm", "app:7"], DockerfileImages.Find(Dockerfile, new Dictionary<string, string> { ["BASE_IMAGE"] = "kubedind/base:bookworm", ["TAG"] = "7" }));
    }

    [Theory]
    [InlineData("FROM ${UNDECLARED}")]
    [InlineData("FROM debian\nADD https://example.com/tool.tgz /tool.tgz")]
    [InlineData("# escape=`\nFROM debian")]
    [InlineData("FROM debian\nCOPY --from=${STAGE} / /")]
    [InlineData("RUN true")]
    public void A_Dockerfile_whose_result_cannot_be_pinned_down_gives_none(string dockerfile) =>
        Assert.Null(DockerfileImages.Find(dockerfile, NoArgs));
}
