namespace Nuke.KubeDind;
