#!/usr/bin/env pwsh
# KubeDind's build: restores the pinned Cake tool and runs build/build.cake with every argument.
$ErrorActionPreference = 'Stop'
Set-Location $PSScriptRoot
$env:DOTNET_CLI_TELEMETRY_OPTOUT = '1'
$env:DOTNET_NOLOGO = '1'
dotnet tool restore | Out-Null
if ($LASTEXITCODE -ne 0) { exit $LASTEXITCODE }

$totals = 'artifacts/test-results/totals.txt'
Remove-Item -ErrorAction SilentlyContinue $totals
dotnet dotnet-cake build/build.cake @args
$status = $LASTEXITCODE
if (Test-Path $totals) { Get-Content $totals }
exit $status
