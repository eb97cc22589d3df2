namespace Lguest.Tests;

public class SmokeTests
{
    [Test]
    public void The_core_assembly_loads()
    {
        Assert.That(typeof(LguestException).Assembly.GetName().Name, Is.EqualTo("Lguest.Core"));
    }
}
