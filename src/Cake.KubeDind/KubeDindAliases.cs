namespace Cake.KubeDind;
