namespace Lguest.Devices;

/// <summary>A disk image cannot be used: it does not exist, is not a regular file, or the host refused to open it.</summary>
public sealed class DiskImageException : LguestException
{
    internal DiskImageException(string path, string reason, Exception? innerException = null)
        : base($"disk image '{path}': {reason}", innerException)
    {
        Path = path;
    }

    /// <summary>The image's path as given.</summary>
    public string Path { get; }
}
