using Lguest.Memory;
using Lguest.Tests.Support;

namespace Lguest.Tests.Boot;

/// <summary>
/// What every loader test starts from: a folder for the images it writes and a fresh guest memory
/// with the layout the test class names. Both are thrown away after each test.
/// </summary>
internal abstract class LoaderFixture
{
    protected const ulong MiB = 1 << 20;

    /// <summary>Where the test writes its kernel and initrd files.</summary>
    protected TemporaryFolder Files { get; private set; } = null!;

    /// <summary>The guest memory the loader writes into.</summary>
    protected GuestMemory Memory { get; private set; } = null!;

    /// <summary>The layout of <see cref="Memory"/> for this class's tests.</summary>
    protected abstract GuestMemoryLayout Layout { get; }

    [SetUp]
    public void CreateFilesAndMemory()
    {
        Files = new TemporaryFolder();
        Memory = GuestMemory.Allocate(Layout);
    }

    [TearDown]
    public void FreeFilesAndMemory()
    {
        Memory.Dispose();
        Files.Dispose();
    }
}
