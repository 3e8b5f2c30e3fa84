// One k3s cluster for every test class that needs one and changes nothing cluster-wide (see RealClusterFixture).
[assembly: AssemblyFixture(typeof(KubeDind.Tests.Deploy.RealClusterFixture))]
