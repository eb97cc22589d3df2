namespace Lguest.Tests.Support;

/// <summary>A private folder under the system temp folder for a test's files, deleted on dispose.</summary>
internal sealed class TemporaryFolder : IDisposable
{
    public TemporaryFolder() => Directory.CreateDirectory(Path);

    public string Path { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "lguest-tests-" + Guid.NewGuid().ToString("N"));

    /// <summary>Writes <paramref name="contents"/> to a new file named <paramref name="name"/> and returns its path.</summary>
    public string Write(string name, byte[] contents)
    {
        string path = System.IO.Path.Combine(Path, name);
        File.WriteAllBytes(path, contents);
        return path;
    }

    public void Dispose() => Directory.Delete(Path, recursive: true);
}
